//! `/v1/accounts`, `/v1/me`, `/v1/me/pin`.

use super::extract::{ApiJson, ClientIp};
use super::rfc3339;
use crate::auth::{AnyCaller, AppUser};
use crate::db::models::Account;
use crate::error::ApiResult;
use crate::services::{identity::accounts, identity::pins, wallet::balance_alerts};
use crate::state::AppState;
use actix_web::{http::header, web, HttpResponse};
use serde::Serialize;

#[derive(Serialize)]
pub struct AccountView {
    pub username: String,
    pub kind: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    pub pin_set: bool,
    /// Whether the e-mail address is confirmed by the code mailed to it.
    pub email_confirmed: bool,
    pub created_at: String,
    /// Merchants: whether the current bank account is verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_account_verified: Option<bool>,
    /// Merchants: the latest Corporate+ application, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_application: Option<crate::services::merchants::upgrade::ApplicationStatus>,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        Self {
            username: a.username.clone(),
            kind: a.kind.clone(),
            email: a.email.clone(),
            phone: a.phone.clone(),
            company_name: a.company_name.clone(),
            iban: a.iban.clone(),
            bic: a.bic.clone(),
            pin_set: a.pin_hash.is_some(),
            email_confirmed: a.email_confirmed_at.is_some(),
            created_at: rfc3339(a.created_at),
            bank_account_verified: crate::domain::account::AccountKind::from_db(&a.kind)
                .is_merchant()
                .then_some(a.bank_verified_at.is_some()),
            upgrade_application: None,
        }
    }
}

pub async fn register(
    state: web::Data<AppState>,
    body: ApiJson<accounts::Registration>,
) -> ApiResult<HttpResponse> {
    let account = accounts::register(&state, body.into_inner()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/v1/me"))
        .json(AccountView::from(&account)))
}

pub async fn me(state: web::Data<AppState>, caller: AnyCaller) -> ApiResult<HttpResponse> {
    let mut view = AccountView::from(&caller.account);
    if view.bank_account_verified.is_some() {
        view.upgrade_application =
            crate::services::merchants::upgrade::status(&state, caller.account.id).await?;
    }
    Ok(HttpResponse::Ok().json(view))
}

pub async fn set_pin(
    state: web::Data<AppState>,
    user: AppUser,
    client: ClientIp,
    body: ApiJson<pins::PinChange>,
) -> ApiResult<HttpResponse> {
    pins::set_pin(&state, &user.account, client.0, body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn balance_alert(
    state: web::Data<AppState>,
    caller: AnyCaller,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(balance_alerts::get(&state, &caller.account).await?))
}

pub async fn set_balance_alert(
    state: web::Data<AppState>,
    caller: AnyCaller,
    body: ApiJson<balance_alerts::AlertSettings>,
) -> ApiResult<HttpResponse> {
    super::not_superseded(caller.superseded())?;
    let view = balance_alerts::set(&state, &caller.account, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}
