//! The Corporate+ application (SPEC §2, seed 002): a Corporate merchant opens it, uploads
//! company documents, and submits it once its bank account is verified; an operator
//! accepts it (the tier becomes Corporate+) or rejects it with a reason (the merchant may
//! add documents and submit again). Documents are kept in the database and shown only to
//! the merchant and to operators. Every operator decision goes to the audit log with it.

use crate::db::models::Account;
use crate::db::schema::{accounts, application_documents as doc, upgrade_applications as ua};
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::account::AccountKind;
use crate::domain::requests::public_id;
use crate::domain::status::ApplicationStatus as Stage;
use crate::domain::time::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::services::merchants::tiers;
use crate::services::operator::audit::{self, Actor};
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

#[derive(Serialize, Debug, Clone)]
pub struct ApplicationView {
    pub id: String,
    pub object: &'static str,
    /// The merchant's username (operators see many).
    pub merchant: String,
    pub status: Stage,
    pub rejection_reason: Option<String>,
    pub bank_account_verified: bool,
    pub documents: Vec<DocumentView>,
    pub created_at: String,
    pub submitted_at: Option<String>,
    pub decided_at: Option<String>,
}

pub use crate::services::merchants::documents::DocumentView;

/// The application's status as `GET /v1/me` shows it.
#[derive(Serialize, Debug, Clone)]
pub struct ApplicationStatus {
    pub id: String,
    pub status: Stage,
    pub rejection_reason: Option<String>,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = ua)]
pub(super) struct AppRow {
    pub(super) id: i64,
    pub(super) public_id: String,
    pub(super) account_id: i64,
    #[diesel(deserialize_as = String)]
    pub(super) status: Stage,
    pub(super) rejection_reason: Option<String>,
    pub(super) created_at: NaiveDateTime,
    pub(super) submitted_at: Option<NaiveDateTime>,
    pub(super) decided_at: Option<NaiveDateTime>,
}

fn latest(c: &mut DbConn, account_id: i64) -> ApiResult<Option<AppRow>> {
    Ok(ua::table
        .filter(ua::account_id.eq(account_id))
        .order(ua::id.desc())
        .select(AppRow::as_select())
        .first(c)
        .optional()?)
}

pub(super) fn reload(c: &mut DbConn, id: i64) -> ApiResult<AppRow> {
    Ok(ua::table.find(id).select(AppRow::as_select()).first(c)?)
}

pub(super) fn by_public_id(c: &mut DbConn, id: &str) -> ApiResult<AppRow> {
    ua::table
        .filter(ua::public_id.eq(id))
        .select(AppRow::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No application has this id."))
}

fn documents(c: &mut DbConn, application_id: i64) -> ApiResult<Vec<DocumentView>> {
    let rows: Vec<(String, String, String, String, i64, String, NaiveDateTime)> = doc::table
        .filter(doc::application_id.eq(application_id))
        .filter(doc::complete.eq(true))
        .order(doc::id.asc())
        .select((
            doc::public_id,
            doc::kind,
            doc::filename,
            doc::content_type,
            doc::size,
            doc::sha256,
            doc::created_at,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, kind, filename, content_type, size, sha256, at)| DocumentView {
                id,
                object: "document",
                kind,
                filename,
                content_type,
                size,
                sha256,
                created_at: rfc3339(at),
            },
        )
        .collect())
}

pub(super) fn view(c: &mut DbConn, row: &AppRow) -> ApiResult<ApplicationView> {
    let account = q::find(c, row.account_id)?.ok_or_else(ApiError::internal)?;
    Ok(ApplicationView {
        id: row.public_id.clone(),
        object: "upgrade_application",
        merchant: account.username,
        status: row.status,
        rejection_reason: row.rejection_reason.clone(),
        bank_account_verified: account.bank_verified_at.is_some(),
        documents: documents(c, row.id)?,
        created_at: rfc3339(row.created_at),
        submitted_at: row.submitted_at.map(rfc3339),
        decided_at: row.decided_at.map(rfc3339),
    })
}

/// The status of the merchant's latest application, for `GET /v1/me`.
pub async fn status(state: &Context, account_id: i64) -> ApiResult<Option<ApplicationStatus>> {
    state
        .db
        .run(move |c| {
            Ok(latest(c, account_id)?.map(|r| ApplicationStatus {
                id: r.public_id,
                status: r.status,
                rejection_reason: r.rejection_reason,
            }))
        })
        .await
}

fn only_corporate(account: &Account) -> ApiResult<()> {
    match AccountKind::from_db(&account.kind) {
        AccountKind::Corporate => Ok(()),
        AccountKind::CorporatePlus => Err(ApiError::conflict(
            "already_corporate_plus",
            "This merchant is Corporate+ already.",
        )),
        _ => Err(ApiError::forbidden(
            "merchant_only",
            "Only merchant accounts may do this.",
        )),
    }
}

/// Opens an application, or returns the one in progress: `(view, created)`.
pub async fn open(state: &Context, account: &Account) -> ApiResult<(ApplicationView, bool)> {
    only_corporate(account)?;
    let (id, now) = (account.id, state.clock.now_naive());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                q::lock(c, id)?;
                if let Some(row) = latest(c, id)?.filter(|r| r.status != Stage::Accepted) {
                    return Ok((view(c, &row)?, false));
                }
                let new_id: i64 = diesel::insert_into(ua::table)
                    .values((
                        ua::public_id.eq(public_id("app")),
                        ua::account_id.eq(id),
                        ua::status.eq(Stage::Open.as_str()),
                        ua::created_at.eq(now),
                        ua::updated_at.eq(now),
                    ))
                    .returning(ua::id)
                    .get_result(c)?;
                let row = reload(c, new_id)?;
                Ok((view(c, &row)?, true))
            })
        })
        .await
}

/// The merchant's current application.
pub async fn current(state: &Context, account: &Account) -> ApiResult<ApplicationView> {
    let id = account.id;
    state
        .db
        .run(move |c| {
            let row = latest(c, id)?.ok_or_else(|| {
                ApiError::not_found("No application yet; open one with POST /v1/me/upgrade.")
            })?;
            view(c, &row)
        })
        .await
}

/// Starts a document for the merchant's application (one that still takes documents);
/// it streams in through `documents::Incoming`.
pub async fn begin_document(
    state: &Context,
    account: &Account,
    kind: &str,
    filename: &str,
    first: &[u8],
) -> ApiResult<crate::services::merchants::documents::Incoming> {
    only_corporate(account)?;
    let id = account.id;
    let application = move |c: &mut DbConn| Ok(editable(latest(c, id)?)?.id);
    crate::services::merchants::documents::begin(state, id, application, kind, filename, first)
        .await
}

/// The application still takes documents and a submission: open, or rejected.
fn editable(row: Option<AppRow>) -> ApiResult<AppRow> {
    let row = row.ok_or_else(|| {
        ApiError::conflict(
            "no_open_application",
            "Open an application first: POST /v1/me/upgrade.",
        )
    })?;
    match row.status {
        Stage::Open | Stage::Rejected => Ok(row),
        Stage::Submitted => Err(ApiError::conflict(
            "application_under_review",
            "The application is with an operator for review; wait for the decision.",
        )),
        _ => Err(ApiError::conflict(
            "no_open_application",
            "The application was accepted; there is nothing to add.",
        )),
    }
}

pub async fn submit(state: &Context, account: &Account) -> ApiResult<ApplicationView> {
    only_corporate(account)?;
    let (id, now) = (account.id, state.clock.now_naive());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let merchant = q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                let app = editable(latest(c, id)?)?;
                if merchant.bank_verified_at.is_none() {
                    return Err(crate::domain::onboarding::bank_account_not_verified());
                }
                let held: i64 = doc::table
                    .filter(doc::application_id.eq(app.id))
                    .count()
                    .get_result(c)?;
                if held == 0 {
                    return Err(ApiError::unprocessable(
                        "documents_required",
                        "Upload the company documents first (POST /v1/me/upgrade/documents).",
                    ));
                }
                diesel::update(ua::table.find(app.id))
                    .set((
                        ua::status.eq(Stage::Submitted.as_str()),
                        ua::submitted_at.eq(now),
                        ua::updated_at.eq(now),
                    ))
                    .execute(c)?;
                let row = reload(c, app.id)?;
                view(c, &row)
            })
        })
        .await
}

/// A stored document's bytes: `(filename, content type, content)`.
pub type DocumentFile = (String, String, Vec<u8>);

pub(super) fn file(c: &mut DbConn, application_id: i64, public: &str) -> ApiResult<DocumentFile> {
    let (id, filename, content_type, column) = doc::table
        .filter(doc::application_id.eq(application_id))
        .filter(doc::public_id.eq(public))
        .filter(doc::complete.eq(true))
        .select((doc::id, doc::filename, doc::content_type, doc::content))
        .first::<(i64, String, String, Vec<u8>)>(c)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No document has this id."))?;
    let content = crate::services::merchants::documents::content(c, id, column)?;
    Ok((filename, content_type, content))
}

/// One of the merchant's own documents (any of its applications); another merchant's is
/// 404 like one that does not exist.
pub async fn own_document(
    state: &Context,
    account: &Account,
    document: String,
) -> ApiResult<DocumentFile> {
    let id = account.id;
    state
        .db
        .run(move |c| {
            let app: Option<i64> = doc::table
                .inner_join(ua::table.on(ua::id.eq(doc::application_id)))
                .filter(doc::public_id.eq(&document))
                .filter(ua::account_id.eq(id))
                .select(ua::id)
                .first(c)
                .optional()?;
            let app = app.ok_or_else(|| ApiError::not_found("No document has this id."))?;
            file(c, app, &document)
        })
        .await
}

/// Corporate+ without the review, for PinPay's own tools only (`pinpay demo` and the
/// sandbox's test merchants): the bank account counts as verified and an accepted
/// application without documents records how the tier came about; audited as `actor`.
pub async fn grant_for_tooling(state: &Context, username: String, actor: Actor) -> ApiResult<()> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let found = q::find_by_username(c, &username)?.ok_or_else(ApiError::internal)?;
                let merchant = q::lock(c, found.id)?.ok_or_else(ApiError::internal)?;
                if AccountKind::from_db(&merchant.kind) == AccountKind::CorporatePlus {
                    return Ok(());
                }
                diesel::update(accounts::table.find(merchant.id))
                    .set((
                        accounts::bank_verified_at.eq(Some(now)),
                        accounts::email_confirmed_at.eq(Some(now)),
                    ))
                    .execute(c)?;
                let public = public_id("app");
                diesel::insert_into(ua::table)
                    .values((
                        ua::public_id.eq(&public),
                        ua::account_id.eq(merchant.id),
                        ua::status.eq(Stage::Accepted.as_str()),
                        ua::created_at.eq(now),
                        ua::submitted_at.eq(now),
                        ua::decided_at.eq(now),
                        ua::updated_at.eq(now),
                    ))
                    .execute(c)?;
                tiers::change_tier(c, &merchant, AccountKind::CorporatePlus, now)?;
                audit::record(
                    c,
                    &actor,
                    "application.granted",
                    &public,
                    Some(json!({"merchant": merchant.username})),
                    now,
                )?;
                Ok(())
            })
        })
        .await
}
