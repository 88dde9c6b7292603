//! Registration, password authentication and the operator's tier changes.

use crate::db::models::{Account, NewAccount};
use crate::db::schema::accounts;
use crate::db::{accounts as q, unique_violation, write_tx};
use crate::domain::account::{text_field, AccountKind, Email, Password, Phone, Username};
use crate::domain::bank::{Bic, Iban};
use crate::domain::throttle::{account_bucket, address_bucket};
use crate::error::{ApiError, ApiResult};
use crate::services::identity::throttle::{self, Attempt};
use crate::services::Context;
use actix_web::http::StatusCode;
use diesel::prelude::*;
use serde::Deserialize;
use std::net::IpAddr;

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationKind {
    Private,
    Corporate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub kind: RegistrationKind,
    pub username: String,
    pub password: String,
    pub email: String,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub company_name: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub iban: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub bic: Option<String>,
}

pub async fn register(state: &Context, r: Registration) -> ApiResult<Account> {
    let username = Username::parse(&r.username)?;
    let password = Password::parse(r.password)?;
    let email = Email::parse(&r.email)?;
    let phone = r.phone.as_deref().map(Phone::parse).transpose()?;
    let iban = r.iban.as_deref().map(Iban::parse).transpose()?;
    let bic = r.bic.as_deref().map(Bic::parse).transpose()?;
    let company_name = match (r.kind, r.company_name) {
        (RegistrationKind::Corporate, Some(name)) => Some(text_field("company_name", &name, 140)?),
        (RegistrationKind::Corporate, None) => {
            return Err(ApiError::invalid_field(
                "company_name",
                "company_name is required for a corporate account",
            ))
        }
        (RegistrationKind::Private, Some(_)) => {
            return Err(ApiError::invalid_field(
                "company_name",
                "company_name is only for corporate accounts",
            ))
        }
        (RegistrationKind::Private, None) => None,
    };
    if r.kind == RegistrationKind::Corporate && iban.is_none() {
        return Err(ApiError::invalid_field(
            "iban",
            "a corporate account needs the company's SEPA bank account (iban)",
        ));
    }
    if bic.is_some() && iban.is_none() {
        return Err(ApiError::invalid_field(
            "bic",
            "bic is given only together with iban",
        ));
    }
    let kind = match r.kind {
        RegistrationKind::Private => AccountKind::Private,
        RegistrationKind::Corporate => AccountKind::Corporate,
    };

    let password_hash = state.hasher.hash(password.expose().to_owned()).await?;
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let new = NewAccount {
                    username: username.as_str(),
                    kind: kind.as_str(),
                    password_hash: Some(&password_hash),
                    email: Some(email.as_str()),
                    phone: phone.as_ref().map(Phone::as_str),
                    company_name: company_name.as_deref(),
                    iban: iban.as_ref().map(Iban::as_str),
                    bic: bic.as_ref().map(Bic::as_str),
                    created_at: now,
                    updated_at: now,
                };
                diesel::insert_into(accounts::table)
                    .values(&new)
                    .returning(accounts::all_columns)
                    .get_result(c)
                    .map_err(|e| {
                        unique_violation(e, || {
                            ApiError::conflict("username_taken", "This username is already taken.")
                                .with("field", "username")
                        })
                    })
            })
        })
        .await
}

/// The account for these credentials, or 401 that does not say which one was wrong.
/// Unknown usernames cost one argon2 verification too, so timing tells nothing.
/// Checks a username and password, throttled per account and per client address. Known
/// and unknown usernames cost the same argon2 work, so timing reveals nothing.
pub async fn authenticate(
    state: &Context,
    client: Option<IpAddr>,
    username: &str,
    password: String,
) -> ApiResult<Account> {
    let attempt = Attempt::new(
        state.config.throttle,
        account_bucket(username),
        client.map(address_bucket),
    );
    throttle::admit(state, &attempt).await?;
    let name = username.to_string();
    let account = if name.len() <= 64 && crate::db::matchable(&name) {
        state
            .db
            .run(move |c| Ok(q::find_by_username(c, &name)?))
            .await?
    } else {
        None
    };
    let phc = account.as_ref().and_then(|a| a.password_hash.clone());
    match (state.hasher.verify(password, phc).await?, account) {
        (true, Some(account)) => {
            throttle::succeeded(state, &attempt).await?;
            Ok(account)
        }
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "The username or password is not correct.",
        )),
    }
}
