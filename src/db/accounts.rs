//! Account queries shared by the services.

use super::models::Account;
use super::schema::{accounts, api_tokens};
use super::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Account>> {
    accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .optional()
}

/// The account's username.
pub fn username_of(conn: &mut DbConn, id: i64) -> QueryResult<String> {
    accounts::table
        .find(id)
        .select(accounts::username)
        .first(conn)
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<Account>> {
    if !super::matchable(username) {
        return Ok(None);
    }
    accounts::table
        .filter(accounts::username.eq(username.to_ascii_lowercase()))
        .select(Account::as_select())
        .first(conn)
        .optional()
}

/// Reads the account and holds its row lock until the transaction ends. On SQLite the
/// surrounding `BEGIN IMMEDIATE` already serialises writers, so a plain read suffices.
/// On PostgreSQL the lock is `FOR NO KEY UPDATE`, the one an update of the balance takes:
/// it does not conflict with the key-share lock a row referencing the account takes (an
/// outbox event or a posting), so a transaction that wrote such a row before locking the
/// account cannot deadlock with another doing the same (two key-share holders both
/// waiting to upgrade, as `FOR UPDATE` would make them).
pub fn lock(conn: &mut DbConn, id: i64) -> QueryResult<Option<Account>> {
    let row = accounts::table.find(id);
    match conn {
        DbConn::Pg(c) => row
            .select(Account::as_select())
            .for_no_key_update()
            .first(c)
            .optional(),
        DbConn::Sqlite(c) => row.select(Account::as_select()).first(c).optional(),
    }
}

/// The order in which a transaction locks account rows on PostgreSQL: private wallets,
/// then merchants, then system accounts, by id within each. Every transaction that locks
/// two accounts takes them in this order, so opposite movements cannot deadlock, and a
/// payment from a private wallet can lock its merchant last (see `requests::approval`).
const LOCK_RANK: &str = "CASE kind WHEN 'private' THEN 0 WHEN 'system' THEN 2 ELSE 1 END";

/// Locks two accounts in lock order ([`LOCK_RANK`]); returns them in the order asked.
pub fn lock_pair(conn: &mut DbConn, a: i64, b: i64) -> QueryResult<(Account, Account)> {
    let (x, y) = match conn {
        // One statement: the rows are locked as the sort returns them, in lock order.
        DbConn::Pg(c) if a != b => {
            let rank = diesel::dsl::sql::<diesel::sql_types::Integer>(LOCK_RANK);
            let mut rows = accounts::table
                .filter(accounts::id.eq_any([a.min(b), a.max(b)]))
                .order((rank.asc(), accounts::id.asc()))
                .select(Account::as_select())
                .for_no_key_update()
                .load(c)?
                .into_iter();
            match (rows.next(), rows.next()) {
                (Some(x), Some(y)) => (x, y),
                _ => return Err(diesel::result::Error::NotFound),
            }
        }
        // SQLite has one writer at a time: the order does not matter.
        _ => {
            let x = lock(conn, a.min(b))?.ok_or(diesel::result::Error::NotFound)?;
            let y = lock(conn, a.max(b))?.ok_or(diesel::result::Error::NotFound)?;
            (x, y)
        }
    };
    Ok(if x.id == a { (x, y) } else { (y, x) })
}

/// Whether an earlier generation's token is still inside its grace period (the current
/// generation's tokens are checked against the account alone, with no query).
pub fn api_token_in_grace(
    c: &mut DbConn,
    account_id: i64,
    generation: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let found: i64 = api_tokens::table
        .filter(api_tokens::account_id.eq(account_id))
        .filter(api_tokens::generation.eq(generation))
        .filter(api_tokens::revoked_at.is_null())
        .filter(api_tokens::revokes_at.gt(now))
        .count()
        .get_result(c)?;
    Ok(found == 1)
}
