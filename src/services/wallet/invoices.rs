//! Monthly fee invoices of merchants: the fees charged in a month that has ended, issued
//! on first request with a number unique and sequential for the issuer (one counter row,
//! incremented in the issuing transaction, so numbers have no gaps), and the same invoice
//! on every later request.

use crate::db::models::Account;
use crate::db::schema::{invoice_sequences as seq, invoices};
use crate::db::{accounts as q, write_tx};
pub use crate::documents::invoice::{display_number, Invoice, InvoiceLine};
use crate::domain::calendar::{Month, Period};
use crate::domain::money::Money;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{history, TxKind};
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// The issuer whose counter numbers the invoices.
pub const ISSUER: &str = "pinpay";

/// What a fee was charged on, as the invoice names it.
fn label(kind: &str) -> &'static str {
    match kind {
        "payment" => "Fees on received payments",
        "transfer" => "Send-money fees",
        "payout" => "Payout fees",
        _ => "Other fees",
    }
}

/// The fees charged in the period, grouped by what they were charged on.
fn fee_lines(
    c: &mut crate::db::DbConn,
    account_id: i64,
    period: Period,
) -> ApiResult<Vec<InvoiceLine>> {
    let only_fees = history::Filter {
        kind: Some(TxKind::Fee),
        from: Some(period.start),
        to: Some(period.end),
    };
    let fees = history::list(c, account_id, &only_fees, None, i64::MAX)?;
    let related: Vec<i64> = fees.iter().filter_map(|i| i.related_id).collect();
    let kinds: HashMap<i64, String> = history::kinds_of(c, &related)?.into_iter().collect();
    let mut lines: Vec<InvoiceLine> = Vec::new();
    for fee in fees {
        let kind = fee
            .related_id
            .and_then(|r| kinds.get(&r))
            .map_or("", |k| k.as_str());
        let label = label(kind);
        let amount = Money::cents(-fee.posting.amount);
        match lines.iter_mut().find(|l| l.label == label) {
            Some(line) => {
                line.count += 1;
                line.amount = line.amount + amount;
            }
            None => lines.push(InvoiceLine {
                label,
                count: 1,
                amount,
            }),
        }
    }
    lines.sort_by_key(|l| l.label);
    Ok(lines)
}

/// The merchant's invoice of `month`: issued now if it has not been, the stored number
/// otherwise. 409 while the month runs; 404 when no fee was charged in it.
pub async fn invoice(state: &Context, account: &Account, month: Month) -> ApiResult<Invoice> {
    let period = state.calendar.month_period(month);
    let now = state.clock.now_naive();
    if period.end > now {
        return Err(ApiError::conflict(
            "invoice_period_open",
            format!("{month} has not ended yet; its invoice is issued once it has."),
        ));
    }
    let (id, label) = (account.id, month.to_string());
    let fallback_name = account
        .company_name
        .clone()
        .unwrap_or_else(|| account.username.clone());
    let (username, iban) = (account.username.clone(), account.iban.clone());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                let lines = fee_lines(c, id, period)?;
                let total = lines.iter().fold(Money::ZERO, |t, l| t + l.amount);
                let stored: Option<(i64, String, i64, NaiveDateTime)> = invoices::table
                    .filter(invoices::account_id.eq(id))
                    .filter(invoices::period.eq(&label))
                    .select((
                        invoices::number,
                        invoices::company_name,
                        invoices::total,
                        invoices::issued_at,
                    ))
                    .first(c)
                    .optional()?;
                let (number, company_name, issued_at) = match stored {
                    Some((number, name, stored_total, issued_at)) => {
                        if stored_total != total.as_cents() {
                            tracing::error!(account = id, %label, stored_total, "an issued invoice's fees changed");
                            return Err(ApiError::internal());
                        }
                        (number, name, issued_at)
                    }
                    None if total == Money::ZERO => {
                        return Err(ApiError::not_found(format!(
                            "No fees were charged to this account in {label}, so there is no invoice."
                        )))
                    }
                    None => {
                        let number: i64 = diesel::update(seq::table.find(ISSUER))
                            .set(seq::last_number.eq(seq::last_number + 1))
                            .returning(seq::last_number)
                            .get_result(c)?;
                        diesel::insert_into(invoices::table)
                            .values((
                                invoices::number.eq(number),
                                invoices::account_id.eq(id),
                                invoices::period.eq(&label),
                                invoices::company_name.eq(&fallback_name),
                                invoices::total.eq(total.as_cents()),
                                invoices::issued_at.eq(now),
                            ))
                            .execute(c)?;
                        (number, fallback_name, now)
                    }
                };
                Ok(Invoice {
                    number,
                    month,
                    period,
                    username,
                    company_name,
                    iban,
                    issued_at,
                    lines,
                    total,
                })
            })
        })
        .await
}

/// An issued invoice as the list shows it.
#[derive(Debug)]
pub struct Issued {
    pub number: i64,
    pub period: String,
    pub total: Money,
    pub issued_at: NaiveDateTime,
}

/// The merchant's issued invoices, newest first (at most 120: ten years).
pub async fn list(state: &Context, account: &Account) -> ApiResult<Vec<Issued>> {
    let id = account.id;
    state
        .db
        .run(move |c| {
            let rows: Vec<(i64, String, i64, NaiveDateTime)> = invoices::table
                .filter(invoices::account_id.eq(id))
                .order(invoices::number.desc())
                .limit(120)
                .select((
                    invoices::number,
                    invoices::period,
                    invoices::total,
                    invoices::issued_at,
                ))
                .load(c)?;
            Ok(rows
                .into_iter()
                .map(|(number, period, total, issued_at)| Issued {
                    number,
                    period,
                    total: Money::cents(total),
                    issued_at,
                })
                .collect())
        })
        .await
}
