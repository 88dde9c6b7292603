//! Read views of an account's money: the balance with the current period's credited
//! ("amount") and debited ("usage") totals, and the posting history.

use crate::domain::calendar::Period;
use crate::domain::money::Money;
use crate::error::ApiResult;
use crate::ledger::history::{self, Filter, Item};
use crate::ledger::usage;
use crate::state::AppState;

#[derive(Debug)]
pub struct Balance {
    pub balance: Money,
    pub period: Period,
    /// Opening balance of the period plus everything credited in it.
    pub amount: Money,
    /// Everything debited in the period; `balance = amount - usage`.
    pub usage: Money,
}

pub async fn balance(state: &AppState, account_id: i64) -> ApiResult<Balance> {
    let period = state.calendar.month(state.clock.now());
    state
        .db
        .run(move |c| {
            // amount = opening + credited = balance + debited: the view needs the period's
            // debits only, read from the running totals (never a sum over postings), and
            // `amount - usage = balance` holds by construction.
            let balance = crate::db::accounts::find(c, account_id)?.map_or(0, |a| a.balance);
            let usage = usage::debited_in(c, account_id, period)?;
            let balance = Money::cents(balance);
            Ok(Balance {
                balance,
                period,
                amount: balance + usage,
                usage,
            })
        })
        .await
}

/// One page (`limit` + 1 rows are read to tell whether more follow).
pub async fn history_page(
    state: &AppState,
    account_id: i64,
    filter: Filter,
    before: Option<i64>,
    limit: i64,
) -> ApiResult<(Vec<Item>, bool)> {
    let mut items = state
        .db
        .run(move |c| Ok(history::list(c, account_id, &filter, before, limit + 1)?))
        .await?;
    let has_more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    Ok((items, has_more))
}

/// Every matching posting, newest first, for the CSV export (bounded).
pub async fn history_all(
    state: &AppState,
    account_id: i64,
    filter: Filter,
) -> ApiResult<Vec<Item>> {
    const MAX_ROWS: i64 = 100_000;
    state
        .db
        .run(move |c| Ok(history::list(c, account_id, &filter, None, MAX_ROWS)?))
        .await
}
