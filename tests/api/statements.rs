//! Monthly statements (JSON, CSV, XLSX, PDF), the activity export as XLSX and the
//! merchants' fee invoices, checked against figures worked out by hand from the movements
//! the test makes, in a month with a daylight-saving change (Berlin, March 2027).

use crate::helpers::{TestApp, PASSWORD, PIN};
use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::io::Cursor;

struct File {
    status: u16,
    content_type: String,
    disposition: String,
    bytes: Vec<u8>,
}

async fn download(app: &TestApp, token: &str, path: &str) -> File {
    let res = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    File {
        status: res.status().as_u16(),
        content_type,
        disposition,
        bytes: res.bytes().await.unwrap().to_vec(),
    }
}

/// The PDF's text as `pdftotext -layout` reads it (poppler-utils must be installed).
fn pdf_text(bytes: &[u8]) -> String {
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let dir = std::env::temp_dir().join(format!("pinpay-pdf-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("doc.pdf");
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext runs (install poppler-utils)");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "pdftotext failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A fresh API token of the merchant.
async fn api_token(app: &TestApp, merchant: &str) -> String {
    let res = app.create_api_token(merchant).await;
    res.ok(201)["token"].as_str().unwrap().to_string()
}

/// Moves the clock and signs in again (app tokens last 15 minutes).
async fn at_time(app: &TestApp, when: &str) -> (String, String) {
    app.clock.set(at(when));
    let shop = api_token(app, "shop").await;
    (shop, app.access_token("anna").await)
}

async fn pay(app: &TestApp, shop: &str, anna: &str, amount: &str) -> String {
    let mr = app
        .create_request(shop, json!({"payer": "anna", "amount": amount}))
        .await;
    let id = mr.ok(201)["id"].as_str().unwrap().to_string();
    app.approve(anna, &id, PIN).await.ok(200);
    id
}

async fn statement(app: &TestApp, token: &str, month: &str) -> Value {
    let res = app
        .get(&format!("/v1/statements/{month}"), Some(token))
        .await;
    res.ok(200).clone()
}

fn money(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[tokio::test]
async fn a_statement_adds_up_to_the_ledger_in_a_month_with_a_daylight_saving_change() {
    let app = TestApp::spawn().await;
    // 2027-02-28 23:30 CET: still February in Berlin.
    app.clock.set(at("2027-02-28T22:30:00Z"));
    app.corporate_plus("shop").await;
    app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);

    // 00:30 CET on 1 March (UTC still says 28 February): March.
    let (shop, anna) = at_time(&app, "2027-02-28T23:30:00Z").await;
    pay(&app, &shop, &anna, "10.00").await; // shop fee 0.25
                                            // 03:30 CEST, just after the clocks went forward.
    let (_, anna) = at_time(&app, "2027-03-28T01:30:00Z").await;
    app.transfer(&anna, "shop", "5.00").await.ok(201); // free for a private wallet
    let (shop, anna) = at_time(&app, "2027-03-30T10:00:00Z").await;
    let refunded = pay(&app, &shop, &anna, "8.00").await; // fee 0.23
    app.post(
        &format!("/v1/money-requests/{refunded}/refunds"),
        Some(&shop),
        json!({"amount": "4.00"}),
    )
    .await
    .ok(201);
    // 23:30 CEST on 31 March: March; 00:30 CEST on 1 April (UTC: 31 March): April.
    let (shop, anna) = at_time(&app, "2027-03-31T21:30:00Z").await;
    pay(&app, &shop, &anna, "3.00").await; // fee 0.18
    let (shop, anna) = at_time(&app, "2027-03-31T22:30:00Z").await;
    pay(&app, &shop, &anna, "7.00").await; // fee 0.22, April

    // Anna's March: 100.00 in, then -10, -5, -8, +4, -3.
    let s = statement(&app, &anna, "2027-03").await;
    assert_eq!(s["timezone"], "Europe/Berlin");
    assert_eq!(s["period_start"], "2027-03-01T00:00:00+01:00");
    assert_eq!(s["period_end"], "2027-04-01T00:00:00+02:00");
    assert_eq!(s["complete"], true);
    let figures = |s: &Value| {
        [
            "opening_balance",
            "credits",
            "debits",
            "fees",
            "closing_balance",
        ]
        .map(|k| money(&s[k]).to_string())
    };
    assert_eq!(figures(&s), ["100.00", "4.00", "26.00", "0.00", "78.00"]);
    let lines = s["lines"].as_array().unwrap();
    let amounts: Vec<&str> = lines.iter().map(|l| money(&l["amount"])).collect();
    assert_eq!(amounts, ["-10.00", "-5.00", "-8.00", "4.00", "-3.00"]);
    // Local times with the offset of the day (the clock runs on from where it was set).
    for (line, local, offset) in [
        (0, "2027-03-01T00:30:", "+01:00"),
        (1, "2027-03-28T03:30:", "+02:00"),
        (4, "2027-03-31T23:30:", "+02:00"),
    ] {
        let booked = lines[line]["booked_at"].as_str().unwrap();
        assert!(
            booked.starts_with(local) && booked.ends_with(offset),
            "{booked}"
        );
    }
    assert_eq!(money(&lines[4]["balance"]), "78.00");

    // The months around it carry the balance over; April ends at today's balance.
    let feb = statement(&app, &anna, "2027-02").await;
    assert_eq!(figures(&feb), ["0.00", "100.00", "0.00", "0.00", "100.00"]);
    let april = statement(&app, &anna, "2027-04").await;
    assert_eq!(april["complete"], false);
    assert_eq!(figures(&april), ["78.00", "0.00", "7.00", "0.00", "71.00"]);
    assert_eq!(app.balance(&anna).await, "71.00");

    // The shop's March: 10 + 5 + 8 + 3 in; fees 0.25 + 0.23 + 0.18 and the 4.00 refund out.
    let shop_march = statement(&app, &shop, "2027-03").await;
    assert_eq!(
        figures(&shop_march),
        ["0.00", "26.00", "4.66", "0.66", "21.34"]
    );
    let fee_line = shop_march["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "fee")
        .unwrap()
        .clone();
    // The fee names the payment the merchant knows (its request id), not a ledger id.
    let described = fee_line["description"].as_str().unwrap();
    assert!(described.starts_with("Fee on payment mr_"), "{fee_line}");

    // CSV: the opening row, five postings, the closing row; the amounts add up.
    let csv = download(&app, &anna, "/v1/statements/2027-03?format=csv").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    assert_eq!(
        csv.disposition,
        "attachment; filename=\"pinpay-statement-anna-2027-03.csv\""
    );
    let text = String::from_utf8(csv.bytes).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0][6..], ["amount", "balance"]);
    assert_eq!((rows[1][3], rows[1][7]), ("opening_balance", "100.00"));
    let last = rows.last().unwrap();
    assert_eq!((last[3], last[7]), ("closing_balance", "78.00"));
    let cents: i64 = rows[2..rows.len() - 1]
        .iter()
        .map(|r| (r[6].parse::<f64>().unwrap() * 100.0).round() as i64)
        .sum();
    assert_eq!(cents, -2200);

    // XLSX: opened with calamine; the summary and the table agree with the ledger.
    let xlsx = download(&app, &anna, "/v1/statements/2027-03?format=xlsx").await;
    assert_eq!(xlsx.status, 200);
    assert_eq!(
        xlsx.content_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx.bytes)).unwrap();
    let sheet = book.worksheet_range("Statement").unwrap();
    let labelled = |label: &str| {
        sheet
            .rows()
            .find(|r| r[0] == Data::String(label.into()))
            .map(|r| r[1].clone())
            .unwrap_or_else(|| panic!("no {label} row"))
    };
    assert_eq!(labelled("Opening balance"), Data::Float(100.0));
    assert_eq!(labelled("Closing balance"), Data::Float(78.0));
    assert_eq!(labelled("Account"), Data::String("anna".into()));
    let postings: Vec<f64> = sheet
        .rows()
        .filter(|r| matches!(&r[1], Data::String(s) if s.starts_with("pst_")))
        .map(|r| match r[6] {
            Data::Float(f) => f,
            ref other => panic!("amount is not a number: {other:?}"),
        })
        .collect();
    assert_eq!(postings, [-10.0, -5.0, -8.0, 4.0, -3.0]);

    // PDF: a real PDF whose text carries the totals.
    let pdf = download(&app, &anna, "/v1/statements/2027-03?format=pdf").await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.content_type, "application/pdf");
    let text = pdf_text(&pdf.bytes);
    for expected in [
        "Account statement",
        "March 2027",
        "Opening balance",
        "100.00 EUR",
        "Closing balance",
        "78.00 EUR",
        "2027-03-28 03:30",
        "Europe/Berlin",
        "page 1 of 1",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test]
async fn statements_refuse_bad_months_and_formats_and_list_long_months_on_many_pages() {
    let app = TestApp::spawn().await;
    app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.get("/v1/statements/2026-13", Some(&anna))
        .await
        .problem(422, "validation_failed");
    app.get("/v1/statements/november", Some(&anna))
        .await
        .problem(422, "validation_failed");
    app.get("/v1/statements/2099-01", Some(&anna))
        .await
        .problem(422, "validation_failed");
    app.get("/v1/statements/2026-12?format=docx", Some(&anna))
        .await
        .problem(400, "invalid_query");
    app.get("/v1/statements/2026-12", None)
        .await
        .problem(401, "unauthenticated");

    // A month of 90 postings needs more than one page; every posting is on one of them.
    app.deposit("anna", "500.00").await.ok(201);
    let shop = api_token(&app, "shop").await;
    for _ in 0..89 {
        app.transfer(&anna, "shop", "0.20").await.ok(201);
    }
    let month = app.clock.now().format("%Y-%m").to_string();
    let pdf = download(&app, &anna, &format!("/v1/statements/{month}?format=pdf")).await;
    let text = pdf_text(&pdf.bytes);
    let pages: u32 = text
        .split("page 1 of ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a page footer");
    assert!(pages >= 2, "90 postings on one page?\n{text}");
    assert!(text.contains(&format!("page {pages} of {pages}")));
    assert_eq!(text.matches("-0.20").count(), 89);
    assert!(text.contains("482.20 EUR"), "the closing balance: {text}");
    let s = statement(&app, &shop, &month).await;
    assert_eq!(s["lines"].as_array().unwrap().len(), 89);
    assert_eq!(money(&s["closing_balance"]), "17.80");
}

#[tokio::test]
async fn the_activity_export_is_a_spreadsheet_as_well() {
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    app.wallet_user("bob").await;
    app.deposit("anna", "50.00").await.ok(201);
    app.transfer(&anna, "bob", "12.34").await.ok(201);
    let file = download(&app, &anna, "/v1/transactions.xlsx").await;
    assert_eq!(file.status, 200);
    assert_eq!(
        file.disposition,
        "attachment; filename=\"transactions.xlsx\""
    );
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(file.bytes)).unwrap();
    let sheet = book.worksheet_range("Activity").unwrap();
    let rows: Vec<_> = sheet.rows().collect();
    assert_eq!(rows[0][0], Data::String("id".into()));
    assert_eq!(rows.len(), 3, "header and two postings");
    assert_eq!(rows[1][3], Data::String("transfer".into()));
    assert_eq!(rows[1][4], Data::Float(-12.34));
    assert_eq!(rows[1][6], Data::String("bob".into()));
    assert_eq!(rows[2][4], Data::Float(50.0));
    // The same filter as the CSV export, and the same refusals.
    let deposits = download(&app, &anna, "/v1/transactions.xlsx?kind=deposit").await;
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(deposits.bytes)).unwrap();
    assert_eq!(book.worksheet_range("Activity").unwrap().rows().count(), 2);
    app.get("/v1/transactions.xlsx?limit=5", Some(&anna))
        .await
        .problem(400, "invalid_query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fee_invoices_are_issued_once_a_month_has_ended_with_sequential_numbers() {
    let app = TestApp::spawn().await;
    app.clock.set(at("2027-01-15T12:00:00Z"));
    app.corporate_plus("shop").await;
    app.corporate_plus("other").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    let shop = api_token(&app, "shop").await;
    let other = api_token(&app, "other").await;
    pay(&app, &shop, &anna, "10.00").await; // fee 0.25
    pay(&app, &shop, &anna, "20.00").await; // fee 0.35
    pay(&app, &other, &anna, "20.00").await; // fee 0.35
    let shop_app = app.access_token("shop").await;
    app.put(
        "/v1/me/pin",
        Some(&shop_app),
        json!({"pin": PIN, "password": PASSWORD}),
    )
    .await
    .ok(204);
    app.transfer(&shop_app, "anna", "1.00").await.ok(201); // send fee 0.25

    app.get("/v1/invoices/2027-01", Some(&shop))
        .await
        .problem(409, "invoice_period_open");

    app.clock.set(at("2027-02-02T09:00:00Z"));
    let shop = api_token(&app, "shop").await;
    let other = api_token(&app, "other").await;
    let first = app
        .get("/v1/invoices/2027-01?format=json", Some(&other))
        .await;
    let first = first.ok(200).clone();
    assert_eq!(first["number"], "PP-000001");
    assert_eq!(money(&first["total"]), "0.35");

    // Five concurrent first requests issue one invoice, numbered next.
    let requests = (0..5).map(|_| app.get("/v1/invoices/2027-01?format=json", Some(&shop)));
    let numbers: Vec<String> = futures::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.ok(200)["number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(numbers, vec!["PP-000002"; 5]);
    let json = app
        .get("/v1/invoices/2027-01?format=json", Some(&shop))
        .await;
    let json = json.ok(200).clone();
    assert_eq!(money(&json["total"]), "0.85");
    let lines: Vec<(String, i64, String)> = json["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["description"].as_str().unwrap().to_string(),
                l["quantity"].as_i64().unwrap(),
                money(&l["amount"]).to_string(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                "Fees on received payments".to_string(),
                2,
                "0.60".to_string()
            ),
            ("Send-money fees".to_string(), 1, "0.25".to_string()),
        ]
    );

    let pdf = download(&app, &shop, "/v1/invoices/2027-01").await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.content_type, "application/pdf");
    assert_eq!(
        pdf.disposition,
        "attachment; filename=\"pinpay-invoice-PP-000002-2027-01.pdf\""
    );
    let text = pdf_text(&pdf.bytes);
    for expected in [
        "Invoice",
        "PP-000002",
        "January 2027",
        "Fees on received payments",
        "Send-money fees",
        "0.85 EUR",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    let list = app.get("/v1/invoices", Some(&shop)).await;
    let list = list.ok(200)["data"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["number"], "PP-000002");

    // No fees, no invoice; wallets have none; bad months and formats are refused.
    app.get("/v1/invoices/2026-12", Some(&shop))
        .await
        .problem(404, "not_found");
    let anna = app.access_token("anna").await;
    app.get("/v1/invoices/2027-01", Some(&anna))
        .await
        .problem(403, "merchant_only");
    app.get("/v1/invoices/2027-1", Some(&shop))
        .await
        .problem(422, "validation_failed");
    app.get("/v1/invoices/2027-01?format=xlsx", Some(&shop))
        .await
        .problem(400, "invalid_query");
    assert_eq!(app.ledger_report().await["ok"], true);
}

/// Company names in Hebrew, Polish and Greek print as themselves in statements and fee
/// invoices (the PDF embeds a Unicode font; nothing becomes `?`), as `pdftotext` reads
/// them; one statement is rendered to PNG for a look (target/screenshots).
#[tokio::test]
async fn statements_and_invoices_print_hebrew_polish_and_greek_names() {
    let app = TestApp::spawn().await;
    app.clock.set(at("2027-01-15T12:00:00Z"));
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    let names = [
        ("hebrew-shop", "חנות הפרחים בע״מ"),
        ("polish-shop", "Zakład Łódź Gęś sp. z o.o."),
        ("greek-shop", "Ελληνικά Προϊόντα Α.Ε."),
    ];
    for (username, company) in names {
        app.post(
            "/v1/accounts",
            None,
            json!({"kind": "corporate", "username": username, "password": PASSWORD,
                   "email": format!("{username}@shop.example"), "company_name": company,
                   "iban": crate::helpers::IBAN, "bic": "DEUTDEFF"}),
        )
        .await
        .ok(201);
        app.onboard(username).await;
        let token = api_token(&app, username).await;
        pay(&app, &token, &anna, "10.00").await;
    }
    app.clock.set(at("2027-02-02T09:00:00Z"));
    for (username, company) in names {
        let token = api_token(&app, username).await;
        let statement = download(&app, &token, "/v1/statements/2027-01?format=pdf").await;
        assert_eq!(statement.status, 200);
        let text = pdf_text(&statement.bytes);
        let invoice = download(&app, &token, "/v1/invoices/2027-01").await;
        assert_eq!(invoice.status, 200);
        let invoice_text = pdf_text(&invoice.bytes);
        // pdftotext gives right-to-left text in reading order; compare the words.
        for word in company.split_whitespace() {
            assert!(
                text.contains(word),
                "{username} statement lacks {word:?}:\n{text}"
            );
            assert!(
                invoice_text.contains(word),
                "{username} invoice lacks {word:?}:\n{invoice_text}"
            );
        }
        assert!(!text.contains('?'), "{text}");
        if username == "hebrew-shop" {
            render("statement-hebrew", &statement.bytes);
            render("invoice-hebrew", &invoice.bytes);
        }
    }
}

/// Writes the PDF to target/screenshots and renders its first page to PNG (pdftoppm).
fn render(name: &str, bytes: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let pdf = dir.join(format!("{name}.pdf"));
    std::fs::write(&pdf, bytes).unwrap();
    let rendered = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "70", "-singlefile"])
        .arg(&pdf)
        .arg(dir.join(name))
        .status()
        .expect("pdftoppm runs (poppler-utils)");
    assert!(rendered.success());
}
