//! The monthly fee invoice as PDF.

use super::pdf::{self, Doc, Weight};
use crate::domain::calendar::Calendar;
use crate::domain::calendar::{Month, Period};
use crate::domain::money::Money;
use chrono::NaiveDateTime;

/// What a fee invoice shows, as the use case built it.
#[derive(Debug)]
pub struct Invoice {
    pub number: i64,
    pub month: Month,
    pub period: Period,
    pub username: String,
    pub company_name: String,
    pub iban: Option<String>,
    pub issued_at: NaiveDateTime,
    pub lines: Vec<InvoiceLine>,
    pub total: Money,
}

impl Invoice {
    /// `PP-000042`.
    pub fn display_number(&self) -> String {
        display_number(self.number)
    }
}

pub fn display_number(number: i64) -> String {
    format!("PP-{number:06}")
}

#[derive(Debug)]
pub struct InvoiceLine {
    pub label: &'static str,
    pub count: i64,
    pub amount: Money,
}

pub fn pdf(inv: &Invoice, cal: &Calendar, issuer_url: &str) -> Result<Vec<u8>, String> {
    let number = inv.display_number();
    let mut doc = Doc::new(
        &format!("PinPay invoice {number}"),
        &format!("PinPay · invoice {number}"),
    );
    let right = pdf::WIDTH - pdf::MARGIN;
    let mut y = pdf::HEIGHT - 70.0;
    doc.text(pdf::MARGIN, y, 18.0, Weight::Bold, "Invoice");
    doc.text_right(right, y, 11.0, Weight::Bold, "PinPay");
    y -= 14.0;
    doc.text_right(right, y, 8.5, Weight::Regular, issuer_url);
    y -= 36.0;
    doc.text(pdf::MARGIN, y, 9.0, Weight::Bold, "Billed to");
    y -= 14.0;
    doc.text(pdf::MARGIN, y, 10.0, Weight::Regular, &inv.company_name);
    y -= 13.0;
    doc.text(
        pdf::MARGIN,
        y,
        9.0,
        Weight::Regular,
        &format!("PinPay account {}", inv.username),
    );
    if let Some(iban) = &inv.iban {
        y -= 13.0;
        doc.text(
            pdf::MARGIN,
            y,
            9.0,
            Weight::Regular,
            &format!("IBAN {iban}"),
        );
    }
    let mut ry = pdf::HEIGHT - 120.0;
    let issued = cal.local(inv.issued_at).format("%Y-%m-%d").to_string();
    let period = inv.month.name();
    for (label, value) in [
        ("Invoice number", number.as_str()),
        ("Issued", issued.as_str()),
        ("Service period", period.as_str()),
        ("Currency", "EUR"),
    ] {
        doc.text(330.0, ry, 9.0, Weight::Bold, label);
        doc.text_right(right, ry, 9.0, Weight::Regular, value);
        ry -= 14.0;
    }
    y = y.min(ry) - 30.0;
    doc.band(y - 4.0, 14.0);
    doc.text(pdf::MARGIN + 4.0, y, 9.0, Weight::Bold, "Description");
    doc.text_right(400.0, y, 9.0, Weight::Bold, "Quantity");
    doc.text_right(right - 4.0, y, 9.0, Weight::Bold, "Amount EUR");
    y -= 20.0;
    for line in &inv.lines {
        doc.text(pdf::MARGIN + 4.0, y, 9.5, Weight::Regular, line.label);
        doc.text_right(400.0, y, 9.5, Weight::Regular, &line.count.to_string());
        doc.text_right(
            right - 4.0,
            y,
            9.5,
            Weight::Regular,
            &line.amount.to_string(),
        );
        y -= 16.0;
    }
    doc.rule(y + 8.0, 0.8);
    y -= 8.0;
    doc.text(pdf::MARGIN + 4.0, y, 10.5, Weight::Bold, "Total");
    doc.text_right(
        right - 4.0,
        y,
        10.5,
        Weight::Bold,
        &format!("{} EUR", inv.total),
    );
    y -= 34.0;
    for note in [
        "The fees were charged to your PinPay balance when each transaction was booked;",
        "this invoice is for your records and needs no payment.",
        "Payment services: exempt from VAT (Art. 135(1)(d) Council Directive 2006/112/EC).",
    ] {
        doc.text(pdf::MARGIN, y, 8.5, Weight::Regular, note);
        y -= 12.0;
    }
    doc.finish()
}
