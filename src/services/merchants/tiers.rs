//! A merchant's tier (Corporate or Corporate+): the change in the caller's transaction
//! (a downgrade revokes the API tokens; the merchant's callback hears of it) and the
//! operator's tier change, which takes a merchant up only with an accepted application.

use crate::db::models::Account;
use crate::db::schema::{accounts, upgrade_applications as ua};
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::account::AccountKind;
use crate::error::{ApiError, ApiResult};
use crate::services::operator::audit::{self, Actor};
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::json;

/// Whether the merchant has an accepted application (an upgrade needs one).
pub fn has_accepted(c: &mut DbConn, account_id: i64) -> ApiResult<bool> {
    let n: i64 = ua::table
        .filter(ua::account_id.eq(account_id))
        .filter(ua::status.eq(crate::domain::status::ApplicationStatus::Accepted.as_str()))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Sets the merchant's tier in the caller's transaction: a downgrade revokes its API
/// tokens; a change is announced as `account.tier_changed` once it has a callback URL.
pub fn change_tier(
    c: &mut DbConn,
    merchant: &Account,
    kind: AccountKind,
    now: NaiveDateTime,
) -> ApiResult<Account> {
    let before = AccountKind::from_db(&merchant.kind);
    let generation = match kind {
        AccountKind::Corporate => merchant.api_token_generation + 1,
        _ => merchant.api_token_generation,
    };
    let updated: Account = diesel::update(accounts::table.find(merchant.id))
        .set((
            accounts::kind.eq(kind.as_str()),
            accounts::api_token_generation.eq(generation),
            accounts::updated_at.eq(now),
        ))
        .returning(accounts::all_columns)
        .get_result(c)?;
    if before != kind && crate::callbacks::settings::has_url(c, merchant.id)? {
        let data = json!({
            "object": "account",
            "username": merchant.username,
            "previous_tier": before.as_str(),
            "tier": kind.as_str(),
        });
        crate::services::messaging::outbox::emit(
            c,
            merchant.id,
            "account.tier_changed",
            data,
            None,
            now,
        )?;
    }
    Ok(updated)
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MerchantTier {
    Corporate,
    CorporatePlus,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierChange {
    pub tier: MerchantTier,
}

/// Operator: upgrade (after the company documents are accepted) or downgrade a merchant.
/// A downgrade revokes every API token at once.
/// The operator's tier change: downgrades and corrections. An upgrade to Corporate+ needs
/// an accepted application (`upgrade::accept` is the way up). Audited with the change.
pub async fn set_tier(
    state: &Context,
    actor: Actor,
    username: String,
    change: TierChange,
) -> ApiResult<Account> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let id = q::find_by_username(c, &username)?
                    .ok_or_else(|| ApiError::not_found("No account has this username."))?
                    .id;
                let account = q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                if !AccountKind::from_db(&account.kind).is_merchant() {
                    return Err(ApiError::conflict(
                        "not_a_merchant",
                        "Only corporate accounts have a tier.",
                    ));
                }
                let kind = match change.tier {
                    MerchantTier::Corporate => AccountKind::Corporate,
                    MerchantTier::CorporatePlus => AccountKind::CorporatePlus,
                };
                let before = AccountKind::from_db(&account.kind);
                if kind == AccountKind::CorporatePlus
                    && before != AccountKind::CorporatePlus
                    && !has_accepted(c, id)?
                {
                    return Err(ApiError::conflict(
                        "upgrade_requires_accepted_application",
                        "An upgrade to Corporate+ needs an accepted application: accept the \
                         merchant's submitted application (POST /v1/admin/applications/{id}/accept).",
                    ));
                }
                let updated = change_tier(c, &account, kind, now)?;
                audit::record(
                    c,
                    &actor,
                    "account.tier_set",
                    &account.username,
                    Some(serde_json::json!({"from": before.as_str(), "to": kind.as_str()})),
                    now,
                )?;
                Ok(updated)
            })
        })
        .await
}
