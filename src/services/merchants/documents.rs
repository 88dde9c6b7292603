//! Corporate+ application documents as they arrive: written to the database in chunks of
//! at most 256 KiB while the upload streams in (a 10 MB document never sits whole in
//! memory), within quotas per application and per merchant per day (smaller before the
//! bank account is verified). An upload that breaks off leaves nothing behind.

use crate::db::schema::upgrade_applications as ua;
use crate::db::schema::{application_documents as doc, document_chunks as dc};
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::onboarding as rules;
use crate::domain::requests::public_id;
use crate::domain::time::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::services::Context;
use actix_web::http::StatusCode;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Serialize, Debug, Clone)]
pub struct DocumentView {
    pub id: String,
    pub object: &'static str,
    pub kind: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: String,
}

/// Bytes written to the database at a time.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// What one merchant may upload in 24 hours.
#[derive(Clone, Copy)]
struct Quota {
    documents: i64,
    bytes: i64,
}

/// Before the bank account is verified: enough for a first application, not for a flood.
const UNVERIFIED: Quota = Quota {
    documents: 5,
    bytes: 20 * 1024 * 1024,
};
const VERIFIED: Quota = Quota {
    documents: 40,
    bytes: 200 * 1024 * 1024,
};
const WINDOW_HOURS: i64 = 24;

/// An upload under way: its document row (not complete yet) and what has arrived.
pub struct Incoming {
    id: i64,
    view: DocumentView,
    next_seq: i32,
    hasher: Sha256,
    buffer: Vec<u8>,
    /// Bytes the merchant's quota still allows for this document.
    bytes_left: i64,
}

fn quota_exceeded(quota: Quota, verified: bool, retry_after: i64) -> ApiError {
    let detail = if verified {
        "The day's upload quota is used up; wait the Retry-After seconds."
    } else {
        "The day's upload quota before bank-account verification is used up; verify the \
         bank account for a larger one, or wait the Retry-After seconds."
    };
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "document_quota_exceeded",
        detail,
    )
    .with("max_documents", quota.documents)
    .with("max_bytes", quota.bytes)
    .with("bank_account_verified", verified)
    .retry_after(retry_after.max(1) as u64)
}

/// The merchant's uploads in the quota window: count, bytes, and the oldest one's time.
/// An upload still under way counts as the largest document it may become, so uploads
/// started together cannot each claim the same remaining quota.
fn window_usage(
    c: &mut DbConn,
    account_id: i64,
    since: NaiveDateTime,
) -> ApiResult<(i64, i64, Option<NaiveDateTime>)> {
    let rows: Vec<(i64, bool, NaiveDateTime)> = doc::table
        .inner_join(ua::table.on(ua::id.eq(doc::application_id)))
        .filter(ua::account_id.eq(account_id))
        .filter(doc::created_at.ge(since))
        .select((doc::size, doc::complete, doc::created_at))
        .load(c)?;
    let reserved = |(size, complete, _): &(i64, bool, NaiveDateTime)| match complete {
        true => *size,
        false => (*size).max(rules::MAX_DOCUMENT_BYTES as i64),
    };
    let bytes = rows.iter().map(reserved).sum();
    let oldest = rows.iter().map(|(_, _, at)| *at).min();
    Ok((rows.len() as i64, bytes, oldest))
}

/// Starts a document of `account_id`: `first` holds its first bytes (at least the few
/// that tell its type). `application` names, in the same transaction, the application the
/// document goes to (the caller's rules: one that still takes documents); then the 20
/// documents and the day's quota are checked, and the document's row written, not
/// complete yet.
pub async fn begin(
    state: &Context,
    account_id: i64,
    application: impl FnOnce(&mut DbConn) -> ApiResult<i64> + Send + 'static,
    kind: &str,
    filename: &str,
    first: &[u8],
) -> ApiResult<Incoming> {
    let kind = rules::document_kind(kind)?;
    let content_type = rules::sniff(first)?;
    let filename = rules::clean_filename(filename);
    let now = state.clock.now_naive();
    let public = public_id("doc");
    let (id, bytes_left) = {
        let public = public.clone();
        let filename = filename.clone();
        state
            .db
            .run(move |c| {
                write_tx(c, |c| {
                    let account = q::lock(c, account_id)?.ok_or_else(ApiError::internal)?;
                    let app_id = application(c)?;
                    let held: i64 = doc::table
                        .filter(doc::application_id.eq(app_id))
                        .count()
                        .get_result(c)?;
                    if held >= rules::MAX_DOCUMENTS {
                        return Err(ApiError::conflict(
                            "too_many_documents",
                            "An application holds 20 documents at most.",
                        ));
                    }
                    let verified = account.bank_verified_at.is_some();
                    let quota = if verified { VERIFIED } else { UNVERIFIED };
                    let since = now - Duration::hours(WINDOW_HOURS);
                    let (count, bytes, oldest) = window_usage(c, account_id, since)?;
                    if count >= quota.documents || bytes >= quota.bytes {
                        let frees = oldest.map_or(60, |o| (o - since).num_seconds());
                        return Err(quota_exceeded(quota, verified, frees));
                    }
                    let id: i64 = diesel::insert_into(doc::table)
                        .values((
                            doc::public_id.eq(&public),
                            doc::application_id.eq(app_id),
                            doc::kind.eq(kind),
                            doc::filename.eq(&filename),
                            doc::content_type.eq(content_type),
                            doc::size.eq(0i64),
                            doc::sha256.eq(""),
                            doc::content.eq(Vec::<u8>::new()),
                            doc::created_at.eq(now),
                            doc::complete.eq(false),
                        ))
                        .returning(doc::id)
                        .get_result(c)?;
                    diesel::update(ua::table.find(app_id))
                        .set(ua::updated_at.eq(now))
                        .execute(c)?;
                    Ok((id, quota.bytes - bytes))
                })
            })
            .await?
    };
    Ok(Incoming {
        id,
        view: DocumentView {
            id: public,
            object: "document",
            kind: kind.to_string(),
            filename,
            content_type: content_type.to_string(),
            size: 0,
            sha256: String::new(),
            created_at: rfc3339(now),
        },
        next_seq: 0,
        hasher: Sha256::new(),
        buffer: Vec::with_capacity(CHUNK_BYTES),
        bytes_left,
    })
}

impl Incoming {
    /// More of the file: refused past 10 MB or the day's quota; written once a chunk is full.
    pub async fn append(&mut self, state: &Context, bytes: &[u8]) -> ApiResult<()> {
        let size = self.view.size + bytes.len() as i64;
        if size > rules::MAX_DOCUMENT_BYTES as i64 {
            return Err(rules::too_large());
        }
        if size > self.bytes_left {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "document_quota_exceeded",
                "This document would exceed the day's upload quota.",
            )
            .retry_after(3600));
        }
        self.view.size = size;
        self.hasher.update(bytes);
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush(state).await?;
        }
        Ok(())
    }

    /// Writes the buffered bytes as the next chunk, and the size so far (which the quota
    /// of concurrent uploads counts).
    async fn flush(&mut self, state: &Context) -> ApiResult<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        let (id, seq, size) = (self.id, self.next_seq, self.view.size);
        state
            .db
            .run(move |c| {
                write_tx(c, |c| {
                    diesel::insert_into(dc::table)
                        .values((
                            dc::document_id.eq(id),
                            dc::seq.eq(seq),
                            dc::bytes.eq(&bytes),
                        ))
                        .execute(c)?;
                    diesel::update(doc::table.find(id))
                        .set(doc::size.eq(size))
                        .execute(c)?;
                    Ok(())
                })
            })
            .await?;
        self.next_seq += 1;
        Ok(())
    }

    /// The upload arrived whole: the document is complete and listed.
    pub async fn finish(mut self, state: &Context) -> ApiResult<DocumentView> {
        self.flush(state).await?;
        let sha = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let (id, size) = (self.id, self.view.size);
        let stored = sha.clone();
        state
            .db
            .run(move |c| {
                diesel::update(doc::table.find(id))
                    .set((
                        doc::size.eq(size),
                        doc::sha256.eq(&stored),
                        doc::complete.eq(true),
                    ))
                    .execute(c)?;
                Ok(())
            })
            .await?;
        self.view.sha256 = sha;
        Ok(self.view)
    }

    /// The upload broke off or was refused: its chunks and row go.
    pub async fn abort(self, state: &Context) {
        let id = self.id;
        let done = state
            .db
            .run(move |c| write_tx(c, |c| remove(c, &[id])))
            .await;
        if let Err(e) = done {
            tracing::warn!(error = %e.detail, "an aborted upload stays until the sweeper removes it");
        }
    }
}

fn remove(c: &mut DbConn, ids: &[i64]) -> ApiResult<()> {
    diesel::delete(dc::table.filter(dc::document_id.eq_any(ids))).execute(c)?;
    diesel::delete(doc::table.filter(doc::id.eq_any(ids))).execute(c)?;
    Ok(())
}

/// Removes uploads that never completed (their server died mid-upload) after an hour.
pub fn purge_incomplete(c: &mut DbConn, now: NaiveDateTime) -> ApiResult<usize> {
    let stale: Vec<i64> = doc::table
        .filter(doc::complete.eq(false))
        .filter(doc::created_at.le(now - Duration::hours(1)))
        .select(doc::id)
        .limit(100)
        .load(c)?;
    remove(c, &stale)?;
    Ok(stale.len())
}

/// A complete document's bytes: its chunks in order (or, for documents stored before
/// chunks, its one column).
pub fn content(c: &mut DbConn, id: i64, column: Vec<u8>) -> ApiResult<Vec<u8>> {
    let chunks: Vec<Vec<u8>> = dc::table
        .filter(dc::document_id.eq(id))
        .order(dc::seq.asc())
        .select(dc::bytes)
        .load(c)?;
    Ok(if chunks.is_empty() {
        column
    } else {
        chunks.concat()
    })
}
