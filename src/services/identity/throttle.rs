//! Counts password attempts per account and per client address in the database, so the
//! throttle holds across instances and restarts. An attempt is admitted (and counted as a
//! failure) in one transaction before the password hash runs, so concurrent guesses cannot
//! slip past the count; a success takes its count back.

use crate::db::schema::{auth_throttles as at, login_addresses as la};
use crate::db::{write_tx, DbConn};
use crate::domain::throttle::{backoff_secs, Limits, RESET_AFTER_SECS};
use crate::error::{ApiError, ApiResult};
use crate::services::Context;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// The buckets one attempt counts in, with the free failures of each.
pub struct Attempt {
    pub buckets: Vec<(String, i32)>,
}

impl Attempt {
    pub fn new(limits: Limits, account: String, address: Option<String>) -> Self {
        // The account first: `succeeded` resets it; "acct:" sorts before "ip:", so every
        // attempt locks its rows in the same order.
        let mut buckets = vec![(account, limits.account_free)];
        buckets.extend(address.map(|a| (a, limits.address_free)));
        Self { buckets }
    }
}

/// Refuses with 429 while any bucket is backing off; otherwise counts the attempt.
pub async fn admit(state: &Context, attempt: &Attempt) -> ApiResult<()> {
    let buckets = attempt.buckets.clone();
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| write_tx(c, |c| admit_tx(c, &buckets, now)))
        .await
}

type BucketRow = (i32, Option<NaiveDateTime>, NaiveDateTime);

/// Makes sure the bucket has a row and locks it (PostgreSQL; SQLite's write transaction
/// already excludes other writers), so concurrent attempts count one after the other.
fn lock_bucket(c: &mut DbConn, bucket: &str, now: NaiveDateTime) -> ApiResult<BucketRow> {
    let insert = diesel::insert_into(at::table)
        .values((
            at::bucket.eq(bucket),
            at::failures.eq(0),
            at::updated_at.eq(now),
        ))
        .on_conflict_do_nothing();
    match c {
        DbConn::Pg(pg) => insert.execute(pg)?,
        DbConn::Sqlite(lite) => insert.execute(lite)?,
    };
    let row = at::table
        .find(bucket)
        .select((at::failures, at::blocked_until, at::updated_at));
    Ok(match c {
        DbConn::Pg(pg) => row.for_update().first(pg)?,
        DbConn::Sqlite(lite) => row.first(lite)?,
    })
}

fn admit_tx(c: &mut DbConn, buckets: &[(String, i32)], now: NaiveDateTime) -> ApiResult<()> {
    // Each bucket's failures so far and how long it still backs off.
    let mut seen = Vec::with_capacity(buckets.len());
    for (bucket, free) in buckets {
        let (failures, wait) = match lock_bucket(c, bucket, now)? {
            (_, _, last) if last <= now - Duration::seconds(RESET_AFTER_SECS) => (0, None),
            (failures, Some(until), _) if until > now => {
                (failures, Some((until - now).num_milliseconds()))
            }
            (failures, _, _) => (failures, None),
        };
        seen.push((bucket, failures, *free, wait));
    }
    // Throttle the guesser, not the owner: an account backing off still admits an attempt
    // from an address its owner signed in from before, while that address has no
    // failures (one try: a wrong one gives the address a failure, so it waits like the
    // others). A fresh address waits, so rotating addresses gains a guesser nothing.
    let clean_address =
        seen.len() == 2 && seen[1].1 == 0 && known_address(c, &buckets[0].0, &buckets[1].0)?;
    for (i, (_, _, _, wait)) in seen.iter().enumerate() {
        match wait {
            Some(_) if i == 0 && clean_address => {}
            Some(ms) => return Err(ApiError::too_many_attempts(((ms + 999) / 1000) as u64)),
            None => {}
        }
    }
    for (bucket, failures, free, _) in seen {
        let failures = failures.saturating_add(1);
        let blocked_until = backoff_secs(failures, free).map(|s| now + Duration::seconds(s));
        diesel::update(at::table.find(bucket))
            .set((
                at::failures.eq(failures),
                at::blocked_until.eq(blocked_until),
                at::updated_at.eq(now),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// The password was right: the account starts over, and the address gets this attempt
/// back (it was counted as a failure in advance).
pub async fn succeeded(state: &Context, attempt: &Attempt) -> ApiResult<()> {
    let buckets = attempt.buckets.clone();
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                if let [(account, _), (address, _)] = buckets.as_slice() {
                    remember_address(c, account, address, now)?;
                }
                let mut buckets = buckets.into_iter();
                if let Some((account, _)) = buckets.next() {
                    diesel::delete(at::table.find(account)).execute(c)?;
                }
                for (bucket, free) in buckets {
                    let failures: Option<i32> = at::table
                        .find(&bucket)
                        .select(at::failures)
                        .first(c)
                        .optional()?;
                    if let Some(failures) = failures {
                        let failures = (failures - 1).max(0);
                        let keep_block = backoff_secs(failures, free).is_some();
                        let target = at::table.find(&bucket);
                        if keep_block {
                            diesel::update(target)
                                .set(at::failures.eq(failures))
                                .execute(c)?;
                        } else {
                            diesel::update(target)
                                .set((
                                    at::failures.eq(failures),
                                    at::blocked_until.eq(None::<NaiveDateTime>),
                                ))
                                .execute(c)?;
                        }
                    }
                }
                Ok(())
            })
        })
        .await
}

/// Whether the account's owner has signed in from this address before.
fn known_address(c: &mut DbConn, account: &str, address: &str) -> ApiResult<bool> {
    let n: i64 = la::table.find((account, address)).count().get_result(c)?;
    Ok(n > 0)
}

/// Remembers the address a right password came from, for `known_address`.
fn remember_address(
    c: &mut DbConn,
    account: &str,
    address: &str,
    now: NaiveDateTime,
) -> ApiResult<()> {
    diesel::delete(la::table.find((account, address))).execute(c)?;
    diesel::insert_into(la::table)
        .values((
            la::account_bucket.eq(account),
            la::address_bucket.eq(address),
            la::last_success.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

/// How long an address stays known without a sign-in from it.
const KNOWN_FOR_DAYS: i64 = 90;

/// Forgets buckets quiet for longer than the reset period, and addresses not used to sign
/// in for 90 days.
pub fn purge(c: &mut DbConn, now: NaiveDateTime) -> ApiResult<usize> {
    diesel::delete(la::table.filter(la::last_success.le(now - Duration::days(KNOWN_FOR_DAYS))))
        .execute(c)?;
    Ok(diesel::delete(
        at::table.filter(at::updated_at.le(now - Duration::seconds(RESET_AFTER_SECS))),
    )
    .execute(c)?)
}
