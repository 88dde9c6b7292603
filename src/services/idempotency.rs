//! Idempotency keys (IETF `Idempotency-Key` draft): per caller, the first request's
//! outcome is stored and replayed for the same key and body; a different body is 422,
//! a repeat while the first still runs is 409. Keys live 24 hours.

use crate::db::schema::idempotency_keys as ik;
use crate::db::{unique_violation, write_tx, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::StatusCode;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const KEY_TTL_HOURS: i64 = 24;

/// The key and the request's fingerprint (method, path and canonical JSON body).
pub struct Claim {
    pub scope: String,
    pub key: String,
    pub hash: String,
}

impl Claim {
    pub fn new(scope: String, key: String, method: &str, path: &str, body: &Value) -> Self {
        let mut h = Sha256::new();
        for part in [method, "\n", path, "\n", &body.to_string()] {
            h.update(part.as_bytes());
        }
        Self {
            scope,
            key,
            hash: hex::encode(h.finalize()),
        }
    }
}

pub enum Begin {
    /// First use: run the request, then `finish`.
    Fresh(i64),
    /// Seen before: this is the stored outcome.
    Replay(StatusCode, Value),
}

pub async fn begin(state: &AppState, claim: Claim) -> ApiResult<Begin> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| write_tx(c, |c| start(c, &claim, now)))
        .await
}

fn in_flight() -> ApiError {
    ApiError::conflict(
        "idempotency_key_in_flight",
        "A request with this Idempotency-Key is still being processed; retry later.",
    )
}

fn start(c: &mut DbConn, claim: &Claim, now: NaiveDateTime) -> ApiResult<Begin> {
    type Row = (
        i64,
        String,
        String,
        Option<i32>,
        Option<String>,
        NaiveDateTime,
    );
    let existing: Option<Row> = ik::table
        .filter(ik::scope.eq(&claim.scope))
        .filter(ik::idempotency_key.eq(&claim.key))
        .select((
            ik::id,
            ik::request_hash,
            ik::status,
            ik::response_status,
            ik::response_body,
            ik::created_at,
        ))
        .first(c)
        .optional()?;
    if let Some((id, hash, status, code, body, created_at)) = existing {
        let stale = created_at <= now - Duration::hours(KEY_TTL_HOURS);
        // A key left in flight by a crashed process is never taken over (the first
        // attempt may have moved money): it answers 409 until it expires.
        if !stale {
            if hash != claim.hash {
                return Err(ApiError::unprocessable(
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with a different request body.",
                ));
            }
            if status == "in_flight" {
                return Err(in_flight());
            }
            let code = code
                .and_then(|s| StatusCode::from_u16(s as u16).ok())
                .ok_or_else(ApiError::internal)?;
            let body = body
                .map(|b| serde_json::from_str(&b))
                .transpose()
                .map_err(|e| ApiError::internal_from("stored response", e))?;
            return Ok(Begin::Replay(code, body.unwrap_or(Value::Null)));
        }
        diesel::delete(ik::table.find(id)).execute(c)?;
    }
    let id = diesel::insert_into(ik::table)
        .values((
            ik::scope.eq(&claim.scope),
            ik::idempotency_key.eq(&claim.key),
            ik::request_hash.eq(&claim.hash),
            ik::status.eq("in_flight"),
            ik::created_at.eq(now),
        ))
        .returning(ik::id)
        .get_result(c)
        .map_err(|e| unique_violation(e, in_flight))?;
    Ok(Begin::Fresh(id))
}

/// Stores the outcome for replay, or forgets the key after a server error so the client
/// can retry it.
pub async fn finish(state: &AppState, id: i64, status: StatusCode, body: &Value) -> ApiResult<()> {
    let body = body.to_string();
    let code = i32::from(status.as_u16());
    let server_error = status.is_server_error();
    state
        .db
        .run(move |c| {
            if server_error {
                diesel::delete(ik::table.find(id)).execute(c)?;
            } else {
                diesel::update(ik::table.find(id))
                    .set((
                        ik::status.eq("done"),
                        ik::response_status.eq(code),
                        ik::response_body.eq(body),
                    ))
                    .execute(c)?;
            }
            Ok(())
        })
        .await
}

/// Removes keys older than the retention period.
pub fn purge(c: &mut DbConn, now: NaiveDateTime) -> ApiResult<usize> {
    Ok(
        diesel::delete(ik::table.filter(ik::created_at.le(now - Duration::hours(KEY_TTL_HOURS))))
            .execute(c)?,
    )
}
