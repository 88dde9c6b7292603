//! `/v1/statements/{month}` (JSON, CSV, XLSX, PDF) and the merchants' fee invoices
//! `/v1/invoices`, `/v1/invoices/{month}` (PDF, JSON).

use super::rfc3339;
use crate::auth::{AnyCaller, Merchant};
use crate::documents;
use crate::domain::calendar::Month;
use crate::domain::money::Money;
use crate::error::{ApiError, ApiResult};
use crate::ledger::txn_public_id;
use crate::services::{wallet::invoices, wallet::statements};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    format: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
    Pdf,
}

impl Format {
    /// The file formats a statement downloads as (`csv`, `xlsx`, `pdf`).
    pub fn download(name: &str) -> Option<Format> {
        [Format::Csv, Format::Xlsx, Format::Pdf]
            .into_iter()
            .find(|f| f.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
            Self::Pdf => "pdf",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Pdf => "application/pdf",
        }
    }

    /// `format` from the query, one of `offered`; without one, `offered[0]`.
    fn pick(query: &FormatQuery, offered: &[Format]) -> ApiResult<Format> {
        let Some(raw) = query.format.as_deref() else {
            return Ok(offered[0]);
        };
        offered
            .iter()
            .copied()
            .find(|f| f.name() == raw)
            .ok_or_else(|| {
                let names: Vec<_> = offered.iter().map(|f| f.name()).collect();
                ApiError::bad_request(
                    "invalid_query",
                    format!("format must be one of {}", names.join(", ")),
                )
                .with("field", "format")
            })
    }
}

fn month(raw: &str) -> ApiResult<Month> {
    Month::parse(raw)
        .ok_or_else(|| ApiError::invalid_field("month", "a month is written YYYY-MM, e.g. 2026-11"))
}

/// The file as an attachment named `name.ext`.
fn attachment(format: Format, name: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.{}\"", format.name()),
        ))
        .body(body)
}

fn xlsx_failed(e: rust_xlsxwriter::XlsxError) -> ApiError {
    ApiError::internal_from("writing the workbook failed", e)
}

fn pdf_failed(e: String) -> ApiError {
    ApiError::internal_from("writing the PDF failed", e)
}

#[derive(Serialize)]
struct StatementView {
    object: &'static str,
    account: String,
    month: String,
    timezone: &'static str,
    period_start: String,
    period_end: String,
    complete: bool,
    currency: &'static str,
    opening_balance: Money,
    credits: Money,
    debits: Money,
    fees: Money,
    closing_balance: Money,
    lines: Vec<LineView>,
}

#[derive(Serialize)]
struct LineView {
    id: String,
    transaction_id: String,
    booked_at: String,
    kind: String,
    amount: Money,
    counterparty: Option<String>,
    description: String,
    balance: Money,
}

pub async fn statement(
    state: web::Data<AppState>,
    caller: AnyCaller,
    path: web::Path<String>,
    query: web::Query<FormatQuery>,
) -> ApiResult<HttpResponse> {
    let format = Format::pick(
        &query,
        &[Format::Json, Format::Csv, Format::Xlsx, Format::Pdf],
    )?;
    let month = month(&path)?;
    let s = statements::statement(&state, &caller.account, month).await?;
    let cal = &state.calendar;
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(StatementView {
            object: "statement",
            account: s.username.clone(),
            month: month.to_string(),
            timezone: cal.tz().name(),
            period_start: cal.rfc3339(s.period.start),
            period_end: cal.rfc3339(s.period.end),
            complete: s.complete,
            currency: "EUR",
            opening_balance: s.opening,
            credits: s.credits,
            debits: s.debits,
            fees: s.fees,
            closing_balance: s.closing,
            lines: s
                .lines
                .iter()
                .map(|l| LineView {
                    id: format!("pst_{}", l.posting_id),
                    transaction_id: txn_public_id(l.transaction_id),
                    booked_at: cal.rfc3339(l.booked_at),
                    kind: l.kind.clone(),
                    amount: l.amount,
                    counterparty: l.counterparty.clone(),
                    description: documents::statement::describe(l),
                    balance: l.balance,
                })
                .collect(),
        }),
        download => statement_file(&s, cal, download)?,
    })
}

/// The statement as a download: CSV, XLSX or PDF (the JSON view is the route's own).
pub fn statement_file(
    s: &documents::statement::Statement,
    cal: &crate::domain::calendar::Calendar,
    format: Format,
) -> ApiResult<HttpResponse> {
    let name = format!("pinpay-statement-{}-{}", s.username, s.month);
    let body = match format {
        Format::Csv => documents::statement::csv(s, cal).into_bytes(),
        Format::Xlsx => documents::statement::xlsx(s, cal).map_err(xlsx_failed)?,
        Format::Pdf | Format::Json => documents::statement::pdf(s, cal).map_err(pdf_failed)?,
    };
    Ok(attachment(format, &name, body))
}

#[derive(Serialize)]
struct InvoiceView {
    object: &'static str,
    number: String,
    month: String,
    company_name: String,
    issued_at: String,
    currency: &'static str,
    lines: Vec<InvoiceLineView>,
    total: Money,
}

#[derive(Serialize)]
struct InvoiceLineView {
    description: &'static str,
    quantity: i64,
    amount: Money,
}

pub async fn invoice(
    state: web::Data<AppState>,
    merchant: Merchant,
    path: web::Path<String>,
    query: web::Query<FormatQuery>,
) -> ApiResult<HttpResponse> {
    let format = Format::pick(&query, &[Format::Pdf, Format::Json])?;
    let month = month(&path)?;
    let inv = invoices::invoice(&state, &merchant.account, month).await?;
    Ok(match format {
        Format::Pdf => {
            let name = format!("pinpay-invoice-{}-{month}", inv.display_number());
            let file = documents::invoice::pdf(&inv, &state.calendar, &state.config.public_url)
                .map_err(pdf_failed)?;
            attachment(format, &name, file)
        }
        _ => HttpResponse::Ok().json(InvoiceView {
            object: "invoice",
            number: inv.display_number(),
            month: month.to_string(),
            company_name: inv.company_name.clone(),
            issued_at: rfc3339(inv.issued_at),
            currency: "EUR",
            lines: inv
                .lines
                .iter()
                .map(|l| InvoiceLineView {
                    description: l.label,
                    quantity: l.count,
                    amount: l.amount,
                })
                .collect(),
            total: inv.total,
        }),
    })
}

#[derive(Serialize)]
struct IssuedView {
    object: &'static str,
    number: String,
    month: String,
    total: Money,
    currency: &'static str,
    issued_at: String,
}

#[derive(Serialize)]
struct IssuedList {
    data: Vec<IssuedView>,
}

pub async fn invoices(state: web::Data<AppState>, merchant: Merchant) -> ApiResult<HttpResponse> {
    let list = invoices::list(&state, &merchant.account).await?;
    let data = list
        .into_iter()
        .map(|i| IssuedView {
            object: "invoice",
            number: invoices::display_number(i.number),
            month: i.period,
            total: i.total,
            currency: "EUR",
            issued_at: rfc3339(i.issued_at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(IssuedList { data }))
}
