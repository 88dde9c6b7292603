//! The monthly statement as CSV, XLSX and PDF: opening balance, every posting with its
//! running balance, closing balance; times in the account's calendar.

use super::pdf::{self, Doc, Weight};
use super::table::{self, Cell};
use crate::domain::calendar::Calendar;
use crate::domain::calendar::{Month, Period};
use crate::domain::money::Money;
use crate::ledger::txn_public_id;

/// What a statement shows, as the use case read it from the ledger.
#[derive(Debug)]
pub struct Statement {
    pub username: String,
    pub company_name: Option<String>,
    pub month: Month,
    pub period: Period,
    /// Whether the month has ended (otherwise the statement runs to now).
    pub complete: bool,
    pub opening: Money,
    pub credits: Money,
    pub debits: Money,
    /// The part of `debits` that is fees.
    pub fees: Money,
    pub closing: Money,
    pub lines: Vec<Line>,
}

#[derive(Debug)]
pub struct Line {
    pub posting_id: i64,
    pub transaction_id: i64,
    pub booked_at: chrono::NaiveDateTime,
    pub kind: String,
    /// Signed: credits positive, debits negative.
    pub amount: Money,
    pub counterparty: Option<String>,
    pub description: Option<String>,
    /// The transaction a fee was charged on, a refund refunds.
    pub related_id: Option<i64>,
    pub balance: Money,
}

const HEADER: [&str; 8] = [
    "booked_at",
    "posting_id",
    "transaction_id",
    "kind",
    "counterparty",
    "description",
    "amount",
    "balance",
];

/// What a line is about, in words.
pub fn describe(line: &Line) -> String {
    match (&line.description, line.kind.as_str(), line.related_id) {
        (Some(d), _, _) => d.clone(),
        (None, "fee", Some(r)) => format!("Fee on {}", txn_public_id(r)),
        (None, "refund", Some(r)) => format!("Refund of {}", txn_public_id(r)),
        (None, kind, _) => {
            let mut k = kind.to_string();
            k[..1].make_ascii_uppercase();
            k
        }
    }
}

fn rows(s: &Statement, cal: &Calendar) -> Vec<Vec<Cell>> {
    let at = |t| cal.rfc3339(t);
    let mut rows = vec![vec![
        at(s.period.start).into(),
        Cell::Empty,
        Cell::Empty,
        "opening_balance".into(),
        Cell::Empty,
        "Opening balance".into(),
        Cell::Empty,
        s.opening.into(),
    ]];
    for l in &s.lines {
        rows.push(vec![
            at(l.booked_at).into(),
            format!("pst_{}", l.posting_id).into(),
            txn_public_id(l.transaction_id).into(),
            l.kind.as_str().into(),
            l.counterparty.clone().into(),
            describe(l).into(),
            l.amount.into(),
            l.balance.into(),
        ]);
    }
    let end = if s.complete {
        s.period.end
    } else {
        s.lines.last().map_or(s.period.start, |l| l.booked_at)
    };
    rows.push(vec![
        at(end).into(),
        Cell::Empty,
        Cell::Empty,
        "closing_balance".into(),
        Cell::Empty,
        "Closing balance".into(),
        Cell::Empty,
        s.closing.into(),
    ]);
    rows
}

pub fn csv(s: &Statement, cal: &Calendar) -> String {
    table::csv(&HEADER, &rows(s, cal))
}

pub fn xlsx(s: &Statement, cal: &Calendar) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let preamble = [
        ("PinPay account statement", Cell::Empty),
        ("Account", s.username.as_str().into()),
        ("Company", s.company_name.clone().into()),
        (
            "Period",
            format!("{} ({})", s.month, cal.tz().name()).into(),
        ),
        ("Currency", "EUR".into()),
        ("Opening balance", s.opening.into()),
        ("Credits", s.credits.into()),
        ("Debits", s.debits.into()),
        ("of which fees", s.fees.into()),
        ("Closing balance", s.closing.into()),
    ];
    table::xlsx("Statement", &preamble, &HEADER, &rows(s, cal))
}

const ROW: f32 = 14.0;
const SIZE: f32 = 8.5;
/// Column left edges (and the two money columns' right edges).
const X_DATE: f32 = pdf::MARGIN;
const X_KIND: f32 = 140.0;
const X_TEXT: f32 = 200.0;
const X_AMOUNT_RIGHT: f32 = 470.0;
const X_BALANCE_RIGHT: f32 = pdf::WIDTH - pdf::MARGIN;

pub fn pdf(s: &Statement, cal: &Calendar) -> Result<Vec<u8>, String> {
    let title = format!("PinPay statement {} – {}", s.month, s.username);
    let mut doc = Doc::new(
        &title,
        &format!("PinPay · statement {} · {}", s.month, s.username),
    );
    let mut y = pdf::HEIGHT - 70.0;
    doc.text(pdf::MARGIN, y, 18.0, Weight::Bold, "Account statement");
    doc.text_right(X_BALANCE_RIGHT, y, 11.0, Weight::Bold, "PinPay");
    y -= 22.0;
    doc.text(pdf::MARGIN, y, 11.0, Weight::Regular, &s.month.name());
    y -= 26.0;
    let period = format!(
        "{} to {} ({}){}",
        cal.local(s.period.start).format("%Y-%m-%d %H:%M %Z"),
        cal.local(s.period.end).format("%Y-%m-%d %H:%M %Z"),
        cal.tz().name(),
        if s.complete { "" } else { ", to date" }
    );
    let holder = match &s.company_name {
        Some(c) => format!("{c} ({})", s.username),
        None => s.username.clone(),
    };
    for (label, value) in [
        ("Account", holder.as_str()),
        ("Period", period.as_str()),
        ("Currency", "EUR"),
    ] {
        doc.text(pdf::MARGIN, y, 9.5, Weight::Bold, label);
        doc.text(130.0, y, 9.5, Weight::Regular, value);
        y -= 15.0;
    }
    y -= 10.0;
    let summary = [
        ("Opening balance", s.opening.to_string(), Weight::Regular),
        ("Credits", format!("+{}", s.credits), Weight::Regular),
        ("Debits", format!("-{}", s.debits), Weight::Regular),
        ("of which fees", s.fees.to_string(), Weight::Regular),
        ("Closing balance", s.closing.to_string(), Weight::Bold),
    ];
    doc.band(y - 5.0 * 15.0 + 10.0, 5.0 * 15.0 + 4.0);
    for (label, value, weight) in summary {
        doc.text(pdf::MARGIN + 8.0, y, 10.0, weight, label);
        doc.text_right(300.0, y, 10.0, weight, &format!("{value} EUR"));
        y -= 15.0;
    }
    y -= 18.0;
    y = table_header(&mut doc, y);
    let opening = ("Opening balance", s.opening.to_string());
    doc.text(X_TEXT, y, SIZE, Weight::Bold, opening.0);
    doc.text_right(X_BALANCE_RIGHT, y, SIZE, Weight::Bold, &opening.1);
    y -= ROW;
    for line in &s.lines {
        if y < 60.0 {
            doc.new_page();
            y = table_header(&mut doc, pdf::HEIGHT - 60.0);
        }
        let text = match &line.counterparty {
            Some(c) => format!("{} · {c}", describe(line)),
            None => describe(line),
        };
        doc.text(
            X_DATE,
            y,
            SIZE,
            Weight::Regular,
            &cal.local(line.booked_at)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        );
        doc.text(X_KIND, y, SIZE, Weight::Regular, &line.kind);
        doc.text(
            X_TEXT,
            y,
            SIZE,
            Weight::Regular,
            &pdf::fit(&text, X_AMOUNT_RIGHT - X_TEXT - 60.0, SIZE),
        );
        let amount = if line.amount.as_cents() > 0 {
            format!("+{}", line.amount)
        } else {
            line.amount.to_string()
        };
        doc.text_right(X_AMOUNT_RIGHT, y, SIZE, Weight::Regular, &amount);
        doc.text_right(
            X_BALANCE_RIGHT,
            y,
            SIZE,
            Weight::Regular,
            &line.balance.to_string(),
        );
        y -= ROW;
    }
    if y < 60.0 {
        doc.new_page();
        y = pdf::HEIGHT - 60.0;
    }
    doc.rule(y + ROW - 4.0, 0.5);
    doc.text(X_TEXT, y, SIZE, Weight::Bold, "Closing balance");
    doc.text_right(
        X_BALANCE_RIGHT,
        y,
        SIZE,
        Weight::Bold,
        &s.closing.to_string(),
    );
    if s.lines.is_empty() {
        doc.text(
            X_TEXT,
            y - 2.0 * ROW,
            SIZE,
            Weight::Regular,
            "No postings in this period.",
        );
    }
    doc.finish()
}

fn table_header(doc: &mut Doc, y: f32) -> f32 {
    doc.band(y - 4.0, ROW);
    for (x, label) in [
        (X_DATE, "Booked"),
        (X_KIND, "Kind"),
        (X_TEXT, "Description"),
    ] {
        doc.text(x + 2.0, y, SIZE, Weight::Bold, label);
    }
    doc.text_right(X_AMOUNT_RIGHT, y, SIZE, Weight::Bold, "Amount EUR");
    doc.text_right(X_BALANCE_RIGHT - 2.0, y, SIZE, Weight::Bold, "Balance EUR");
    y - ROW - 2.0
}
