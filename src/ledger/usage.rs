//! Per-account usage in a period, read inside the moving transaction for limit checks.

use crate::db::schema::postings;
use crate::db::DbConn;
use crate::domain::calendar::Period;
use crate::domain::money::Money;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

/// Which side of the account's postings to count.
#[derive(Clone, Copy)]
pub enum Side {
    Credits,
    Debits,
}

/// Money movements of the account in the period, fees excluded.
pub fn movements(c: &mut DbConn, account_id: i64, p: Period) -> QueryResult<i64> {
    postings::table
        .filter(postings::account_id.eq(account_id))
        .filter(postings::kind.ne("fee"))
        .filter(postings::created_at.ge(p.start))
        .filter(postings::created_at.lt(p.end))
        .select(diesel::dsl::count(postings::transaction_id).aggregate_distinct())
        .get_result(c)
}

/// Number of `kind` postings on one side of the account in the period.
pub fn count(
    c: &mut DbConn,
    account_id: i64,
    kind: &str,
    side: Side,
    p: Period,
) -> QueryResult<i64> {
    let base = postings::table
        .filter(postings::account_id.eq(account_id))
        .filter(postings::kind.eq(kind.to_string()))
        .filter(postings::created_at.ge(p.start))
        .filter(postings::created_at.lt(p.end))
        .count();
    match side {
        Side::Credits => base.filter(postings::amount.gt(0)).get_result(c),
        Side::Debits => base.filter(postings::amount.lt(0)).get_result(c),
    }
}

/// Total (as a positive amount) of `kind` postings on one side in the period;
/// `kind = None` totals every kind.
pub fn total(
    c: &mut DbConn,
    account_id: i64,
    kind: Option<&str>,
    side: Side,
    p: Period,
) -> QueryResult<Money> {
    let mut q = postings::table
        .filter(postings::account_id.eq(account_id))
        .filter(postings::created_at.ge(p.start))
        .filter(postings::created_at.lt(p.end))
        .select(sql::<BigInt>(
            "CAST(COALESCE(SUM(ABS(amount)), 0) AS BIGINT)",
        ))
        .into_boxed();
    if let Some(kind) = kind {
        q = q.filter(postings::kind.eq(kind.to_string()));
    }
    q = match side {
        Side::Credits => q.filter(postings::amount.gt(0)),
        Side::Debits => q.filter(postings::amount.lt(0)),
    };
    q.get_result::<i64>(c).map(Money::cents)
}

/// Everything debited from the account in the period (positive): the running debit total
/// at the period's last posting minus the one before the period began. Two index seeks,
/// however many postings the period holds.
pub fn debited_in(c: &mut DbConn, account_id: i64, p: Period) -> QueryResult<Money> {
    let (end, _) = super::history::running_before(c, account_id, p.end)?;
    let (start, _) = super::history::running_before(c, account_id, p.start)?;
    Ok(Money::cents(end - start))
}
