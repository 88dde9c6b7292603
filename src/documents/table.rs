//! One table in two formats: CSV (RFC 4180) and an XLSX sheet whose money columns are
//! numbers with two decimals (so a spreadsheet can sum them).

use crate::domain::money::Money;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// A cell: text, or money (written as a number in XLSX).
pub enum Cell {
    Text(String),
    Money(Money),
    Empty,
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<Money> for Cell {
    fn from(m: Money) -> Self {
        Cell::Money(m)
    }
}

impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Self {
        s.map_or(Cell::Empty, Cell::Text)
    }
}

pub fn csv(header: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut out = header.join(",");
    out.push('\n');
    for row in rows {
        let fields: Vec<String> = row
            .iter()
            .map(|c| match c {
                Cell::Text(s) => csv_field(s),
                Cell::Money(m) => m.to_string(),
                Cell::Empty => String::new(),
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// RFC 4180 quoting; a leading formula character is neutralised for spreadsheets.
fn csv_field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '@', '-']) && f.parse::<f64>().is_err() {
        format!("'{f}")
    } else {
        f.to_string()
    };
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

/// A workbook of one sheet: `preamble` rows of (label, value) above the table.
pub fn xlsx(
    sheet: &str,
    preamble: &[(&str, Cell)],
    header: &[&str],
    rows: &[Vec<Cell>],
) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name(sheet)?;
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let mut r: u32 = 0;
    let write = |ws: &mut rust_xlsxwriter::Worksheet, r: u32, c: u16, cell: &Cell| match cell {
        Cell::Text(s) => ws.write_string(r, c, s).map(|_| ()),
        Cell::Money(m) => ws
            .write_number_with_format(r, c, m.as_cents() as f64 / 100.0, &money)
            .map(|_| ()),
        Cell::Empty => Ok(()),
    };
    for (label, value) in preamble {
        ws.write_string_with_format(r, 0, *label, &bold)?;
        write(ws, r, 1, value)?;
        r += 1;
    }
    if !preamble.is_empty() {
        r += 1;
    }
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(r, c as u16, *h, &bold)?;
    }
    let first_data_row = r + 1;
    for row in rows {
        r += 1;
        for (c, cell) in row.iter().enumerate() {
            write(ws, r, c as u16, cell)?;
        }
    }
    for (c, h) in header.iter().enumerate() {
        let widest = rows
            .iter()
            .filter_map(|row| match row.get(c) {
                Some(Cell::Text(s)) => Some(s.chars().count()),
                Some(Cell::Money(_)) => Some(12),
                _ => None,
            })
            .chain([h.len()])
            .max()
            .unwrap_or(10)
            .clamp(8, 60);
        ws.set_column_width(c as u16, widest as f64 + 2.0)?;
    }
    ws.set_freeze_panes(first_data_row, 0)?;
    book.save_to_buffer()
}
