//! Idempotency keys (IETF `Idempotency-Key` draft): per caller, the first request's
//! outcome is stored and replayed for the same key and body; a different body is 422,
//! a repeat while the first still runs is 409. A refusal that asks for a retry (5xx, 429,
//! a concurrent update) is not stored: the key is released. Keys live 24 hours.
//!
//! The attempt that runs holds the key by a lease (a random token and a deadline). It
//! stores its outcome in the same database transaction as its effect ([`Seal`]), so a
//! committed effect always has its outcome beside it. A key still in flight after a crash
//! therefore has no effect yet: once its lease lapses a retry takes it over and runs the
//! operation for the first time. An attempt whose lease was taken over cannot commit its
//! effect (the seal finds another token and rolls the transaction back).

use crate::db::schema::idempotency_keys as ik;
use crate::db::{unique_violation, write_tx, Cached, DbConn};
use crate::domain::status::KeyStatus;
use crate::error::{ApiError, ApiResult};
use crate::services::Context;
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

/// The key held by the running attempt.
#[derive(Clone, Debug)]
pub struct Lease {
    id: i64,
    token: String,
}

pub enum Begin {
    /// First use (or a lapsed lease taken over): run the request, sealing its outcome.
    Fresh(Lease),
    /// Seen before: this is the stored outcome.
    Replay(StatusCode, Value),
}

pub async fn begin(state: &Context, claim: Claim) -> ApiResult<Begin> {
    let now = state.clock.now_naive();
    let lease = Duration::seconds(state.config.idempotency_lease_secs);
    state
        .db
        .run(move |c| write_tx(c, |c| start(c, &claim, now, lease)))
        .await
}

fn in_flight() -> ApiError {
    ApiError::conflict(
        "idempotency_key_in_flight",
        "A request with this Idempotency-Key is still being processed; retry later.",
    )
}

fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

type KeyRow = (
    i64,
    String,
    String,
    Option<i32>,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

fn start(c: &mut DbConn, claim: &Claim, now: NaiveDateTime, lease: Duration) -> ApiResult<Begin> {
    let existing: Option<KeyRow> = ik::table
        .filter(ik::scope.eq(&claim.scope))
        .filter(ik::idempotency_key.eq(&claim.key))
        .select((
            ik::id,
            ik::request_hash,
            ik::status,
            ik::response_status,
            ik::response_body,
            ik::created_at,
            ik::lease_until,
        ))
        .first(c)
        .optional()?;
    let token = new_token();
    if let Some((id, hash, status, code, body, created_at, lease_until)) = existing {
        let stale = created_at <= now - Duration::hours(KEY_TTL_HOURS);
        if !stale {
            if hash != claim.hash {
                return Err(ApiError::unprocessable(
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with a different request body.",
                ));
            }
            if KeyStatus::parse(&status) == Some(KeyStatus::InFlight) {
                if lease_until.is_some_and(|until| until > now) {
                    return Err(in_flight());
                }
                // The holder crashed or overran its lease: nothing of it has committed
                // (effect and outcome commit together), so this attempt runs afresh.
                let taken = diesel::update(ik::table.find(id))
                    .filter(ik::status.eq(KeyStatus::InFlight.as_str()))
                    .set((ik::lease_token.eq(&token), ik::lease_until.eq(now + lease)))
                    .execute(c)?;
                return match taken {
                    1 => Ok(Begin::Fresh(Lease { id, token })),
                    _ => Err(in_flight()),
                };
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
            ik::status.eq(KeyStatus::InFlight.as_str()),
            ik::created_at.eq(now),
            ik::lease_token.eq(&token),
            ik::lease_until.eq(now + lease),
        ))
        .returning(ik::id)
        .get_result(c)
        .map_err(|e| unique_violation(e, in_flight))?;
    Ok(Begin::Fresh(Lease { id, token }))
}

/// Records the outcome while the lease is still ours; false if it was taken over.
fn store(c: &mut DbConn, lease: &Lease, status: StatusCode, body: &Value) -> ApiResult<bool> {
    let stored = Cached(
        diesel::update(ik::table.find(lease.id))
            .filter(ik::status.eq(KeyStatus::InFlight.as_str()))
            .filter(ik::lease_token.eq(&lease.token))
            .set((
                ik::status.eq(KeyStatus::Done.as_str()),
                ik::response_status.eq(i32::from(status.as_u16())),
                ik::response_body.eq(body.to_string()),
            ))
            .returning(ik::id),
    )
    .get_results::<i64>(c)?;
    Ok(stored.len() == 1)
}

/// What a keyed operation does inside its own transaction, just before it commits: store
/// the response it is about to send. Without a key it does nothing.
pub struct Seal {
    lease: Option<Lease>,
}

/// A seal bound to the rendering of the service's result into the response.
pub type OnCommit<T> = Box<dyn FnOnce(&mut DbConn, &T) -> ApiResult<()> + Send>;

impl Seal {
    pub fn new(lease: Option<Lease>) -> Self {
        Self { lease }
    }

    /// Stores the response under the key in the caller's open transaction; fails (so
    /// the transaction rolls back) if another attempt has taken the key over.
    pub fn store(&self, c: &mut DbConn, status: StatusCode, body: &Value) -> ApiResult<()> {
        match &self.lease {
            Some(lease) if !store(c, lease, status, body)? => Err(in_flight()),
            _ => Ok(()),
        }
    }

    /// The seal as a service's commit hook: `render` turns its result into the response.
    pub fn hook<T: 'static>(
        self,
        render: impl Fn(&T) -> ApiResult<(StatusCode, Value)> + Send + 'static,
    ) -> OnCommit<T> {
        Box::new(move |c, value| {
            let (status, body) = render(value)?;
            self.store(c, status, &body)
        })
    }
}

/// The commit hook of a call made without a key (demo seeding, internal callers).
pub fn unsealed<T>() -> OnCommit<T> {
    Box::new(|_, _| Ok(()))
}

/// How an attempt ended, for its key.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A final answer: replayed for every retry with the key.
    Answer(StatusCode, Value),
    /// A refusal that asks the client to retry (a server error, 429, a concurrent update):
    /// nothing was done, so the key is released and the retry runs the operation.
    Retry,
}

/// After the attempt: stores a refusal for replay (nothing committed with it, so storing it
/// on its own is safe), or releases the key after a refusal that asks for a retry.
/// A key already sealed by the operation's own transaction is left as it is.
pub async fn finish(state: &Context, lease: Lease, outcome: Outcome) -> ApiResult<()> {
    state
        .db
        .run(move |c| {
            match &outcome {
                Outcome::Retry => {
                    diesel::delete(ik::table.find(lease.id))
                        .filter(ik::status.eq(KeyStatus::InFlight.as_str()))
                        .filter(ik::lease_token.eq(&lease.token))
                        .execute(c)?;
                }
                Outcome::Answer(status, body) => {
                    store(c, &lease, *status, body)?;
                }
            }
            Ok(())
        })
        .await
}

/// `finish` tried again in the background while the database is out, until the lease
/// would have lapsed anyway: a retry after an outage is not kept waiting for the lease.
pub fn finish_later(state: Context, lease: Lease, outcome: Outcome) {
    let give_up = std::time::Instant::now()
        + std::time::Duration::from_secs(state.config.idempotency_lease_secs.max(1) as u64);
    actix_web::rt::spawn(async move {
        while std::time::Instant::now() < give_up {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            match finish(&state, lease.clone(), outcome.clone()).await {
                Err(e) if e.status.is_server_error() => continue,
                _ => return,
            }
        }
    });
}

/// Removes keys older than the retention period.
pub fn purge(c: &mut DbConn, now: NaiveDateTime) -> ApiResult<usize> {
    Ok(
        diesel::delete(ik::table.filter(ik::created_at.le(now - Duration::hours(KEY_TTL_HOURS))))
            .execute(c)?,
    )
}

/// Runs `f` in one write transaction and seals its result before the commit, so the
/// effect and the stored response commit together.
pub fn sealed_tx<T>(
    c: &mut DbConn,
    on_commit: OnCommit<T>,
    f: impl FnOnce(&mut DbConn) -> ApiResult<T>,
) -> ApiResult<T> {
    write_tx(c, |c| {
        let value = f(c)?;
        on_commit(c, &value)?;
        Ok(value)
    })
}
