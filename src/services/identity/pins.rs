//! The wallet PIN: setting and changing it, and `verify_pin`, the one check every
//! PIN-protected operation (approvals, transfers, payouts) goes through. A PIN is kept as
//! a keyed tag (`domain::pin_tag`); one kept as argon2 from before, or under an older key,
//! is verified that way once and tagged under the newest key by its next correct entry,
//! in the transaction that entry authorises.

use crate::db::models::Account;
use crate::db::schema::{accounts, pin_checks};
use crate::db::{accounts as q, lazy_tx, write_tx, DbConn};
use crate::domain::account::Pin;
use crate::domain::pin_attempts::{Admission, PinCounter, CHECK_LEASE_SECS};
use crate::domain::pin_tag::{self, Verdict};
use crate::error::{ApiError, ApiResult};
use crate::services::identity::accounts::authenticate;
use crate::services::Context;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinChange {
    pub pin: String,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub password: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub old_pin: Option<String>,
}

/// Sets the PIN with the password, or changes it with the old PIN (or the password).
pub async fn set_pin(
    state: &Context,
    account: &Account,
    client: Option<std::net::IpAddr>,
    change: PinChange,
) -> ApiResult<()> {
    let new_pin = Pin::parse_new("pin", &change.pin)?;
    match (change.password, change.old_pin) {
        (Some(password), None) => {
            let same = authenticate(state, client, &account.username, password).await?;
            if same.id != account.id {
                return Err(ApiError::internal());
            }
        }
        (None, Some(old_pin)) => verify_pin(state, account.id, &old_pin).await?,
        _ => {
            return Err(ApiError::unprocessable(
                "pin_authorisation_required",
                "give exactly one of password (to set or reset the PIN) or old_pin (to change it)",
            ))
        }
    }
    let hash = state.config.pin_keys.tag(account.id, new_pin.expose());
    let (id, now) = (account.id, state.clock.now_naive());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let reset = PinCounter::cleared();
                diesel::update(accounts::table.find(id))
                    .set((
                        accounts::pin_hash.eq(Some(hash)),
                        accounts::pin_failed_attempts.eq(reset.failed),
                        accounts::pin_blocked_until.eq(reset.blocked_until),
                        accounts::updated_at.eq(now),
                    ))
                    .execute(c)?;
                Ok(())
            })
        })
        .await
}

/// Checks `pin` for the account: the one PIN check behind every PIN-protected
/// operation. The argon2 check runs outside any transaction; before it, the check is
/// registered in flight, and it may start only while failures plus checks in flight are
/// under the limit (otherwise it waits for one to resolve). So no burst of concurrent
/// guesses gets more than 5 tries, while concurrent right PINs all pass.
/// Errors: 422 malformed, 409 no PIN set, 403 `pin_invalid` or `pin_blocked`,
/// 429 `pin_check_busy` if the wait runs out.
pub async fn verify_pin(state: &Context, account_id: i64, pin: &str) -> ApiResult<()> {
    let passed = check_pin(state, account_id, pin).await?;
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| write_tx(c, |c| passed.release(c, now)))
        .await
}

/// A right PIN whose check is still registered in flight: the caller releases it
/// ([`PinPassed::release`]), in the transaction of the operation it authorised where it
/// can (one commit less), or on its own.
#[derive(Clone, Debug)]
pub struct PinPassed {
    account_id: i64,
    check_id: i64,
    /// The PIN's new stored form when it was kept as argon2 or under an older key.
    retag: Option<String>,
}

impl PinPassed {
    /// Ends the check as passed: the failure count is cleared (and the PIN tagged anew
    /// if it needs it).
    pub fn release(&self, c: &mut DbConn, now: NaiveDateTime) -> ApiResult<()> {
        resolve(c, self.account_id, self.check_id, Some(true), now)?;
        self.store_retag(c)
    }

    fn store_retag(&self, c: &mut DbConn) -> ApiResult<()> {
        if let Some(tag) = &self.retag {
            diesel::update(accounts::table.find(self.account_id))
                .set(accounts::pin_hash.eq(tag))
                .execute(c)?;
        }
        Ok(())
    }

    /// [`PinPassed::release`] in a transaction that already holds the account's row lock
    /// (`account` is the row it read): one statement less.
    pub fn release_locked(
        &self,
        c: &mut DbConn,
        account: &Account,
        now: NaiveDateTime,
    ) -> ApiResult<()> {
        if account.id != self.account_id {
            return Err(ApiError::internal_from(
                "PIN release",
                "the locked account is not the PIN's",
            ));
        }
        end_check(c, account, self.check_id, Some(true), now)?;
        self.store_retag(c)
    }

    /// After the operation's transaction: unless it committed the release, writes it on
    /// its own (a failure leaves the check to lapse with its lease).
    pub fn release_unless_committed(&self, c: &mut DbConn, committed: bool, now: NaiveDateTime) {
        if committed {
            return;
        }
        if let Err(e) = write_tx(c, |c| self.release(c, now)) {
            tracing::warn!(error = %e.detail, "PIN check left to its lease");
        }
    }
}

/// `verify_pin` without the release of a right PIN: a wrong PIN (or a hashing failure) is
/// resolved here and refused.
pub async fn check_pin(state: &Context, account_id: i64, pin: &str) -> ApiResult<PinPassed> {
    let found = |_: &mut DbConn, row: Option<Account>| {
        row.ok_or_else(|| ApiError::not_found("No such account."))
    };
    check_pin_admitting(state, account_id, pin, found)
        .await
        .map(|(passed, _)| passed)
}

/// `check_pin` that also runs the caller's own checks in the check's registration, on
/// the wallet's row as it locked it (`None`: no such account): `admit` returns the
/// admitted account or refuses, before a try is taken. One database turn instead of one
/// per check (an approval admits the wallet's token and checks the request is payable).
pub async fn check_pin_admitting<F>(
    state: &Context,
    account_id: i64,
    pin: &str,
    admit: F,
) -> ApiResult<(PinPassed, Account)>
where
    F: Fn(&mut DbConn, Option<Account>) -> ApiResult<Account> + Clone + Send + 'static,
{
    let pin = Pin::parse("pin", pin)?;
    let _turn = state.pin_gate.enter(account_id).await;
    let (account, check_id) = register(state, account_id, admit).await?;
    let stored = account.pin_hash.clone().unwrap_or_default();
    let matches = matches(state, account_id, pin.expose(), &stored).await;
    if let Ok(true) = matches {
        let keys = &state.config.pin_keys;
        let passed = PinPassed {
            account_id,
            check_id,
            retag: keys
                .needs_retag(&stored)
                .then(|| keys.tag(account_id, pin.expose())),
        };
        return Ok((passed, account));
    }
    let now = state.clock.now_naive();
    // A server-side hashing failure releases the check without counting it.
    let outcome = matches.as_ref().ok().copied();
    let counter = state
        .db
        .run(move |c| write_tx(c, |c| resolve(c, account_id, check_id, outcome, now)))
        .await?;
    matches?;
    match counter.blocked_until {
        Some(until) => {
            // Blocked wallets are refused before their check: this wrong PIN blocked it.
            state.metrics.pin_lockout();
            Err(blocked(until))
        }
        None => Err(
            ApiError::forbidden("pin_invalid", "The PIN is not correct.")
                .with("attempts_remaining", counter.remaining()),
        ),
    }
}

/// Whether `pin` is the account's: a keyed tag is checked here (microseconds), an argon2
/// hash from before keyed tags on the hashing pool. A tag under a key this server does not
/// have is neither right nor wrong: the check ends uncounted with 503 `pin_key_missing`.
async fn matches(state: &Context, account_id: i64, pin: &str, stored: &str) -> ApiResult<bool> {
    match state.config.pin_keys.check(stored, account_id, pin) {
        Verdict::Matches => Ok(true),
        Verdict::Differs => Ok(false),
        Verdict::Argon2 => {
            state
                .hasher
                .verify(pin.to_owned(), Some(stored.to_owned()))
                .await
        }
        Verdict::KeyMissing(version) => Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "pin_key_missing",
            format!(
                "This PIN is protected by PIN key version {version}, which this server does \
                 not have; nothing was counted. The operator must add it to PINPAY_PIN_KEYS."
            ),
        )),
        Verdict::Unreadable => Err(ApiError::internal_from(
            "PIN check",
            "the stored PIN is neither a keyed tag nor argon2",
        )),
    }
}

/// Checks each configured PIN key against the check value the database keeps for its
/// version, and records the check values of versions it has not seen. Returns the
/// versions whose key is not the one the database knows: with such a key every PIN tagged
/// under the version would read as wrong and count toward the lock, so the server must
/// not start.
pub fn check_keys(
    c: &mut DbConn,
    keys: &pin_tag::PinKeys,
    now: NaiveDateTime,
) -> ApiResult<Vec<u32>> {
    use crate::db::schema::pin_key_checks as kc;
    let mut wrong = Vec::new();
    for version in keys.versions() {
        let mine = keys.check_value(version).unwrap_or_default();
        let known = |c: &mut DbConn| -> ApiResult<Option<String>> {
            Ok(kc::table
                .find(version as i32)
                .select(kc::check_value)
                .first(c)
                .optional()?)
        };
        let stored = match known(c)? {
            Some(v) => v,
            None => {
                // Another instance starting at the same moment may record it first.
                let _ = diesel::insert_into(kc::table)
                    .values((
                        kc::version.eq(version as i32),
                        kc::check_value.eq(&mine),
                        kc::created_at.eq(now),
                    ))
                    .execute(c);
                known(c)?.unwrap_or_default()
            }
        };
        if !crate::domain::secrets::constant_time_eq(&stored, &mine) {
            wrong.push(version);
        }
    }
    Ok(wrong)
}

/// How many PINs each key version holds, how many are still argon2, and how many are
/// under a version this server does not have (`pinpay pins status`, and the warning at
/// start).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KeyCensus {
    pub by_version: Vec<(u32, i64)>,
    pub argon2: i64,
    pub other: i64,
}

pub fn key_census(c: &mut DbConn, keys: &pin_tag::PinKeys) -> ApiResult<KeyCensus> {
    let set = || accounts::table.filter(accounts::pin_hash.is_not_null());
    let total: i64 = set().count().get_result(c)?;
    let argon2: i64 = set()
        .filter(accounts::pin_hash.like("$argon2%"))
        .count()
        .get_result(c)?;
    let mut by_version = Vec::new();
    for version in keys.versions() {
        let n: i64 = set()
            .filter(accounts::pin_hash.like(pin_tag::like_version(version)))
            .count()
            .get_result(c)?;
        by_version.push((version, n));
    }
    let counted: i64 = argon2 + by_version.iter().map(|(_, n)| n).sum::<i64>();
    Ok(KeyCensus {
        by_version,
        argon2,
        other: total - counted,
    })
}

/// Registers a check in flight, waiting (up to ~10 s) while every try is taken. The
/// registration commits lazily (`lazy_tx`): one lost in a crash only gives its try back,
/// and a wrong PIN's count is written synced (`resolve`). Returns the admitted account,
/// whose PIN is set, and the check's id.
async fn register<F>(state: &Context, account_id: i64, admit: F) -> ApiResult<(Account, i64)>
where
    F: Fn(&mut DbConn, Option<Account>) -> ApiResult<Account> + Clone + Send + 'static,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = state.clock.now_naive();
        let admit = admit.clone();
        let admitted = state
            .db
            .run(move |c| lazy_tx(c, |c| try_admit(c, account_id, now, admit)))
            .await?;
        if let Some(started) = admitted {
            return Ok(started);
        }
        if std::time::Instant::now() >= deadline {
            return Err(ApiError::new(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "pin_check_busy",
                "Too many PIN checks are running for this wallet; retry shortly.",
            )
            .retry_after(1));
        }
        // Only checks on other instances hold the tries now: back off, with jitter.
        let jitter = rand::random::<u64>() % 100;
        tokio::time::sleep(std::time::Duration::from_millis(50 + jitter)).await;
    }
}

fn try_admit(
    c: &mut DbConn,
    id: i64,
    now: NaiveDateTime,
    admit: impl FnOnce(&mut DbConn, Option<Account>) -> ApiResult<Account>,
) -> ApiResult<Option<(Account, i64)>> {
    let locked = q::lock(c, id)?;
    let account = admit(c, locked)?;
    if account.id != id {
        return Err(ApiError::internal_from(
            "PIN check",
            "the admitted account is not the PIN's",
        ));
    }
    if account.pin_hash.is_none() {
        return Err(ApiError::conflict(
            "pin_not_set",
            "Set a PIN first (PUT /v1/me/pin).",
        ));
    }
    let lease_start = now - Duration::seconds(CHECK_LEASE_SECS);
    let in_flight: i64 = pin_checks::table
        .filter(pin_checks::account_id.eq(id))
        .filter(pin_checks::started_at.gt(lease_start))
        .count()
        .get_result(c)?;
    let counter = PinCounter {
        failed: account.pin_failed_attempts,
        blocked_until: account.pin_blocked_until,
    };
    match counter.admit(in_flight, now) {
        Admission::Blocked { until } => Err(blocked(until)),
        Admission::Wait => Ok(None),
        Admission::Start { counter: next } => {
            if next != counter {
                store(c, id, next, now)?;
            }
            let check_id = diesel::insert_into(pin_checks::table)
                .values((
                    pin_checks::account_id.eq(id),
                    pin_checks::started_at.eq(now),
                ))
                .returning(pin_checks::id)
                .get_result(c)?;
            Ok(Some((account, check_id)))
        }
    }
}

fn resolve(
    c: &mut DbConn,
    id: i64,
    check_id: i64,
    outcome: Option<bool>,
    now: NaiveDateTime,
) -> ApiResult<PinCounter> {
    let account = q::lock(c, id)?.ok_or_else(|| ApiError::not_found("No such account."))?;
    end_check(c, &account, check_id, outcome, now)
}

/// `resolve` once the account's row is locked and read.
fn end_check(
    c: &mut DbConn,
    account: &Account,
    check_id: i64,
    outcome: Option<bool>,
    now: NaiveDateTime,
) -> ApiResult<PinCounter> {
    let id = account.id;
    // The check itself, and crashed checks past their lease (cleaned up by whoever comes
    // next), in one statement.
    let lease_start = now - Duration::seconds(CHECK_LEASE_SECS);
    diesel::delete(
        pin_checks::table
            .filter(pin_checks::account_id.eq(id))
            .filter(
                pin_checks::id
                    .eq(check_id)
                    .or(pin_checks::started_at.le(lease_start)),
            ),
    )
    .execute(c)?;
    let counter = PinCounter {
        failed: account.pin_failed_attempts,
        blocked_until: account.pin_blocked_until,
    };
    let next = match outcome {
        Some(true) => PinCounter::cleared(),
        Some(false) => counter.failed_once(now),
        None => counter,
    };
    if next != counter {
        store(c, id, next, now)?;
    }
    Ok(next)
}

fn store(c: &mut DbConn, id: i64, counter: PinCounter, now: NaiveDateTime) -> ApiResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::pin_failed_attempts.eq(counter.failed),
            accounts::pin_blocked_until.eq(counter.blocked_until),
            accounts::updated_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

fn blocked(until: NaiveDateTime) -> ApiError {
    ApiError::forbidden(
        "pin_blocked",
        "Too many wrong PINs; the PIN is blocked for now.",
    )
    .with("blocked_until", crate::domain::time::rfc3339(until))
}

/// Queues one instance's PIN checks per wallet in memory (a fair async lock per account),
/// so concurrent checks wait here instead of polling the database; the database admission
/// rule still bounds checks across instances.
#[derive(Clone, Default)]
pub struct PinGate {
    locks: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<i64, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    >,
}

/// A wallet's turn; the wallet's entry is dropped when nobody else waits for it.
pub struct PinTurn {
    gate: PinGate,
    account_id: i64,
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl PinGate {
    pub async fn enter(&self, account_id: i64) -> PinTurn {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            locks.entry(account_id).or_default().clone()
        };
        let guard = lock.clone().lock_owned().await;
        PinTurn {
            gate: self.clone(),
            account_id,
            lock,
            guard: Some(guard),
        }
    }
}

impl Drop for PinTurn {
    fn drop(&mut self) {
        self.guard.take();
        let mut locks = self.gate.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Two owners left (the map and this turn): nobody waits, forget the wallet.
        if std::sync::Arc::strong_count(&self.lock) == 2 {
            locks.remove(&self.account_id);
        }
    }
}
