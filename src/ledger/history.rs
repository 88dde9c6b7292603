//! An account's postings, newest first, filtered by kind and time, with the
//! counterparty and description of each movement.

use super::TxKind;
use crate::db::models::Posting;
use crate::db::schema::{accounts, ledger_transactions as lt, postings};
use crate::db::{DbConn, MultiBackend};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub kind: Option<TxKind>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

#[derive(Debug)]
pub struct Item {
    pub posting: Posting,
    pub description: Option<String>,
    pub related_id: Option<i64>,
    pub counterparty: Option<String>,
}

/// A posting with its transaction's description and related id, and the counterparty.
type Row = (Posting, Option<String>, Option<i64>, Option<String>);

/// Up to `limit` postings with id below `before` (the cursor), newest first. The page's
/// ids are picked from the account's indexes alone (a query whose columns they hold),
/// then its rows are read by id: with a kind filter that matches most of an account's
/// postings, SQLite would otherwise walk the whole table backwards by id instead of the
/// `(account_id, kind, id)` index (35 ms for an account's first page at 1M requests).
pub fn list(
    c: &mut DbConn,
    account_id: i64,
    f: &Filter,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Item>> {
    let mut page: postings::BoxedQuery<'_, MultiBackend, BigInt> = postings::table
        .filter(postings::account_id.eq(account_id))
        .select(postings::id)
        .order(postings::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(kind) = f.kind {
        page = page.filter(postings::kind.eq(kind.as_str()));
    }
    // Booking order is id order on an account (`ledger::post`; the verifier checks it), so
    // a time range is an id range: its ends are one index seek each, and the page walks
    // only the postings inside it (not every newer one when `to` is long ago, nor every
    // older one when few are after `from`).
    if let Some(from) = f.from {
        let Some(first) = first_from(c, account_id, from)? else {
            return Ok(Vec::new());
        };
        page = page.filter(postings::id.ge(first));
    }
    if let Some(to) = f.to {
        let Some(last) = last_before(c, account_id, to)? else {
            return Ok(Vec::new());
        };
        page = page.filter(postings::id.le(last.id));
    }
    if let Some(before) = before {
        page = page.filter(postings::id.lt(before));
    }
    let ids: Vec<i64> = page.load(c)?;
    // Exports ask for many rows: read them in slices of ids, each in the page's order.
    let mut rows: Vec<Row> = Vec::with_capacity(ids.len());
    for slice in ids.chunks(500) {
        rows.extend(
            postings::table
                .inner_join(lt::table)
                .left_join(
                    accounts::table.on(accounts::id.nullable().eq(postings::counterparty_id)),
                )
                .filter(postings::id.eq_any(slice))
                .select((
                    Posting::as_select(),
                    lt::description,
                    lt::related_id,
                    accounts::username.nullable(),
                ))
                .order(postings::id.desc())
                .load::<Row>(c)?,
        );
    }
    Ok(items(rows))
}

/// The id of the account's first posting booked at or after `at`: one seek on
/// `(account_id, created_at)`.
fn first_from(c: &mut DbConn, account_id: i64, at: NaiveDateTime) -> QueryResult<Option<i64>> {
    postings::table
        .filter(postings::account_id.eq(account_id))
        .filter(postings::created_at.ge(at))
        .order((postings::created_at.asc(), postings::id.asc()))
        .select(postings::id)
        .first(c)
        .optional()
}

/// Every posting of the account in `[period.start, period.end)`, oldest first, up to
/// `limit`.
pub fn in_period(
    c: &mut DbConn,
    account_id: i64,
    period: crate::domain::calendar::Period,
    limit: i64,
) -> QueryResult<Vec<Item>> {
    let rows: Vec<Row> = postings::table
        .inner_join(lt::table)
        .left_join(accounts::table.on(accounts::id.nullable().eq(postings::counterparty_id)))
        .filter(postings::account_id.eq(account_id))
        .filter(postings::created_at.ge(period.start))
        .filter(postings::created_at.lt(period.end))
        .select((
            Posting::as_select(),
            lt::description,
            lt::related_id,
            accounts::username.nullable(),
        ))
        .order((postings::created_at.asc(), postings::id.asc()))
        .limit(limit)
        .load(c)?;
    Ok(items(rows))
}

fn items(rows: Vec<Row>) -> Vec<Item> {
    rows.into_iter()
        .map(|(posting, description, related_id, counterparty)| Item {
            posting,
            description,
            related_id,
            counterparty,
        })
        .collect()
}

/// The account's last posting booked before a moment, with its running figures (cents).
#[derive(Queryable)]
struct Running {
    id: i64,
    debited_through: i64,
    balance_after: i64,
}

/// The account's last posting booked before `at`: one index seek on
/// `(account_id, created_at)`, however many postings came before or since.
fn last_before(c: &mut DbConn, account_id: i64, at: NaiveDateTime) -> QueryResult<Option<Running>> {
    postings::table
        .filter(postings::account_id.eq(account_id))
        .filter(postings::created_at.lt(at))
        .order((postings::created_at.desc(), postings::id.desc()))
        .select((
            postings::id,
            postings::debited_through,
            postings::balance_after,
        ))
        .first(c)
        .optional()
}

/// The running figures before `at`: the debit total and the balance (both 0 before the
/// account's first posting).
pub fn running_before(
    c: &mut DbConn,
    account_id: i64,
    at: NaiveDateTime,
) -> QueryResult<(i64, i64)> {
    Ok(last_before(c, account_id, at)?.map_or((0, 0), |r| (r.debited_through, r.balance_after)))
}

/// The kind of each of these transactions (fees name the movement they were charged on).
pub fn kinds_of(c: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        out.extend(
            lt::table
                .filter(lt::id.eq_any(chunk))
                .select((lt::id, lt::kind))
                .load::<(i64, String)>(c)?,
        );
    }
    Ok(out)
}
