//! The operator's review of Corporate+ applications: the list, one application with
//! its documents (each read audited), and the decision: accepting raises the merchant to
//! Corporate+, rejecting gives the reason and lets the merchant resubmit. Two concurrent
//! decisions: the first wins under the merchant's lock.

use super::upgrade::{by_public_id, file, reload, view, AppRow, ApplicationView, DocumentFile};
use crate::db::models::Account;
use crate::db::schema::upgrade_applications as ua;
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::account::{text_field, AccountKind};
use crate::domain::status::ApplicationStatus as Stage;
use crate::error::{ApiError, ApiResult};
use crate::services::merchants::tiers;
use crate::services::operator::audit::{self, Actor};
use crate::services::Context;
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::json;

pub async fn list(
    state: &Context,
    status: Option<String>,
    starting_after: Option<String>,
    limit: i64,
) -> ApiResult<(Vec<ApplicationView>, bool)> {
    let status = Stage::filter(status.as_deref())?;
    state
        .db
        .run(move |c| {
            let mut query = ua::table.into_boxed();
            if let Some(s) = status {
                query = query.filter(ua::status.eq(s.as_str()));
            }
            if let Some(after) = starting_after {
                let after = by_public_id(c, &after).map_err(|_| ApiError::unknown_cursor())?;
                query = query.filter(ua::id.lt(after.id));
            }
            let rows: Vec<AppRow> = query
                .order(ua::id.desc())
                .limit(limit + 1)
                .select(AppRow::as_select())
                .load(c)?;
            let has_more = rows.len() as i64 > limit;
            let views = rows
                .iter()
                .take(limit as usize)
                .map(|r| view(c, r))
                .collect::<ApiResult<_>>()?;
            Ok((views, has_more))
        })
        .await
}

pub async fn get(state: &Context, application: String) -> ApiResult<ApplicationView> {
    state
        .db
        .run(move |c| {
            let row = by_public_id(c, &application)?;
            view(c, &row)
        })
        .await
}

/// A document for an operator; the download is audited.
pub async fn operator_document(
    state: &Context,
    actor: Actor,
    application: String,
    document: String,
) -> ApiResult<DocumentFile> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let row = by_public_id(c, &application)?;
                let found = file(c, row.id, &document)?;
                audit::record(c, &actor, "document.downloaded", &document, None, now)?;
                Ok(found)
            })
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    pub reason: String,
}

/// The application to decide and its merchant, locked; the status is read under the
/// merchant's lock, so of two concurrent decisions only the first finds it submitted.
fn lock_submitted(c: &mut DbConn, application: &str) -> ApiResult<(AppRow, Account)> {
    let found = by_public_id(c, application)?;
    let merchant = q::lock(c, found.account_id)?.ok_or_else(ApiError::internal)?;
    let row = reload(c, found.id)?;
    if row.status != Stage::Submitted {
        return Err(ApiError::conflict(
            "application_not_submitted",
            format!(
                "Only a submitted application can be decided; this one is {}.",
                row.status
            ),
        ));
    }
    Ok((row, merchant))
}

/// Accepts a submitted application: the merchant becomes Corporate+, the decision is
/// audited and announced (`account.tier_changed`) in one transaction.
pub async fn accept(
    state: &Context,
    actor: Actor,
    application: String,
) -> ApiResult<ApplicationView> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let (row, merchant) = lock_submitted(c, &application)?;
                if merchant.bank_verified_at.is_none() {
                    return Err(crate::domain::onboarding::bank_account_not_verified());
                }
                diesel::update(ua::table.find(row.id))
                    .set((
                        ua::status.eq(Stage::Accepted.as_str()),
                        ua::decided_at.eq(now),
                        ua::updated_at.eq(now),
                    ))
                    .execute(c)?;
                let row = reload(c, row.id)?;
                tiers::change_tier(c, &merchant, AccountKind::CorporatePlus, now)?;
                audit::record(
                    c,
                    &actor,
                    "application.accepted",
                    &row.public_id,
                    Some(json!({"merchant": merchant.username})),
                    now,
                )?;
                view(c, &row)
            })
        })
        .await
}

pub async fn reject(
    state: &Context,
    actor: Actor,
    application: String,
    rejection: Rejection,
) -> ApiResult<ApplicationView> {
    let reason = text_field("reason", &rejection.reason, 500)?;
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let (row, merchant) = lock_submitted(c, &application)?;
                diesel::update(ua::table.find(row.id))
                    .set((
                        ua::status.eq(Stage::Rejected.as_str()),
                        ua::rejection_reason.eq(&reason),
                        ua::decided_at.eq(now),
                        ua::updated_at.eq(now),
                    ))
                    .execute(c)?;
                let row = reload(c, row.id)?;
                audit::record(
                    c,
                    &actor,
                    "application.rejected",
                    &row.public_id,
                    Some(json!({"merchant": merchant.username, "reason": reason})),
                    now,
                )?;
                view(c, &row)
            })
        })
        .await
}
