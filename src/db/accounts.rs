//! Account queries shared by the services.

use super::models::Account;
use super::schema::accounts;
use super::DbConn;
use diesel::prelude::*;

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Account>> {
    accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<Account>> {
    accounts::table
        .filter(accounts::username.eq(username.to_ascii_lowercase()))
        .select(Account::as_select())
        .first(conn)
        .optional()
}

/// Reads the account and holds its row lock until the transaction ends. On SQLite the
/// surrounding `BEGIN IMMEDIATE` already serialises writers, so a plain read suffices.
pub fn lock(conn: &mut DbConn, id: i64) -> QueryResult<Option<Account>> {
    let row = accounts::table.find(id);
    match conn {
        DbConn::Pg(c) => row
            .select(Account::as_select())
            .for_update()
            .first(c)
            .optional(),
        DbConn::Sqlite(c) => row.select(Account::as_select()).first(c).optional(),
    }
}
