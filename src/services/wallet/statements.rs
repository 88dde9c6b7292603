//! Read views of an account's money: the balance with the current period's credited
//! ("amount") and debited ("usage") totals, the posting history, and the monthly
//! statement (opening balance, every posting with its running balance, closing balance,
//! in the account's calendar).

use crate::db::read_snapshot;
use crate::documents::statement::{Line, Statement};
use crate::domain::calendar::{Month, Period};
use crate::domain::money::Money;
use crate::error::{ApiError, ApiResult};
use crate::ledger::history::{self, Filter, Item};
use crate::ledger::usage;
use crate::services::Context;

#[derive(Debug)]
pub struct Balance {
    pub balance: Money,
    pub period: Period,
    /// Opening balance of the period plus everything credited in it.
    pub amount: Money,
    /// Everything debited in the period; `balance = amount - usage`.
    pub usage: Money,
}

pub async fn balance(state: &Context, account_id: i64) -> ApiResult<Balance> {
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
    state: &Context,
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
pub async fn history_all(state: &Context, account_id: i64, filter: Filter) -> ApiResult<Vec<Item>> {
    const MAX_ROWS: i64 = 100_000;
    state
        .db
        .run(move |c| Ok(history::list(c, account_id, &filter, None, MAX_ROWS)?))
        .await
}

/// Postings one statement lists at most; a busier month is exported by date range.
pub const MAX_STATEMENT_LINES: i64 = 50_000;

/// The account's statement of `month` (422 for a month that has not begun). Read in one
/// snapshot; opening + credits − debits = closing is checked against the balances the
/// ledger gives for the month's two ends.
pub async fn statement(
    state: &Context,
    account: &crate::db::models::Account,
    month: Month,
) -> ApiResult<Statement> {
    let period = state.calendar.month_period(month);
    let now = state.clock.now_naive();
    if period.start > now {
        return Err(ApiError::invalid_field(
            "month",
            format!("{month} has not begun"),
        ));
    }
    let (id, username, company_name) = (
        account.id,
        account.username.clone(),
        account.company_name.clone(),
    );
    state
        .db
        .run(move |c| {
            read_snapshot(c, |c| {
                let (_, opening) = history::running_before(c, id, period.start)?;
                let (_, closing) = history::running_before(c, id, period.end)?;
                let items = history::in_period(c, id, period, MAX_STATEMENT_LINES + 1)?;
                if items.len() as i64 > MAX_STATEMENT_LINES {
                    return Err(ApiError::unprocessable(
                        "statement_too_large",
                        format!(
                            "{month} has more than {MAX_STATEMENT_LINES} postings; export it by \
                             date range from /v1/transactions.csv instead."
                        ),
                    ));
                }
                let (mut running, mut credits, mut debits, mut fees) = (opening, 0, 0, 0);
                let lines = items
                    .into_iter()
                    .map(|i| {
                        let amount = i.posting.amount;
                        running += amount;
                        if amount >= 0 {
                            credits += amount;
                        } else {
                            debits -= amount;
                        }
                        if i.posting.kind == "fee" {
                            fees -= amount;
                        }
                        Line {
                            posting_id: i.posting.id,
                            transaction_id: i.posting.transaction_id,
                            booked_at: i.posting.created_at,
                            kind: i.posting.kind,
                            amount: Money::cents(amount),
                            counterparty: i.counterparty,
                            description: i.description,
                            related_id: i.related_id,
                            balance: Money::cents(running),
                        }
                    })
                    .collect();
                if running != closing {
                    tracing::error!(account = id, %month, opening, running, closing, "statement does not add up");
                    return Err(ApiError::internal());
                }
                Ok(Statement {
                    username,
                    company_name,
                    month,
                    period,
                    complete: period.end <= now,
                    opening: Money::cents(opening),
                    credits: Money::cents(credits),
                    debits: Money::cents(debits),
                    fees: Money::cents(fees),
                    closing: Money::cents(closing),
                    lines,
                })
            })
        })
        .await
}
