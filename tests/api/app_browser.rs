//! The wallet app in Chromium, as a payer uses it: sign in, a request pushed into the open
//! inbox, approval with the PIN (and with a passkey), the receipt and the merchant's
//! callback, declining, sending money, topping up, the statement PDF, the installable
//! app and its offline shell. Every screen is screenshotted at 390 and 1280 px in English
//! and Hebrew (`target/screenshots/app-*`).

use crate::browser::Browser;
use crate::helpers::{TestApp, PASSWORD, PIN};
use crate::passkeys::{payment_factors, REGISTER_SCRIPT};
use crate::receiver::Receiver;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn request(app: &TestApp, shop: &str, amount: &str, description: &str) -> String {
    app.create_request(
        shop,
        json!({"payer": "anna", "amount": amount, "description": description, "reference": "ORD-42"}),
    )
    .await
    .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Both widths of the current page.
async fn shoot(b: &Browser, name: &str) {
    for width in [390, 1280] {
        b.fit_height(width).await;
        b.screenshot(&format!("app-{name}-{width}")).await;
    }
    b.fit_height(390).await;
}

/// Whether `css` matches within `limit`, polling the live page (no reload).
async fn appears(b: &Browser, css: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let script = format!("return !!document.querySelector({});", json!(css));
    loop {
        if b.execute(&script).await == Value::Bool(true) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn browser_a_payer_uses_the_wallet_app_from_sign_in_to_statement() {
    // Passkeys need a host name: the app is opened as http://localhost:PORT.
    let port = Receiver::free_port();
    let app = TestApp::spawn_with(|c| {
        c.bind = format!("127.0.0.1:{port}");
        c.public_url = format!("http://localhost:{port}");
    })
    .await;
    let base = format!("http://localhost:{port}");
    let receiver = Receiver::start().await;
    let shop = app.corporate_plus("shop").await;
    app.set_callback_url(&shop, &receiver.url()).await;
    let anna = app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    app.deposit("anna", "100.00").await.ok(201);

    let b = Browser::start(390).await;
    b.goto(&format!("{base}/app/register?lang=he")).await;
    shoot(&b, "register-he").await;
    b.goto(&format!("{base}/app/register?lang=en")).await;
    shoot(&b, "register-en").await;
    b.goto(&format!("{base}/app/sign-in?lang=he")).await;
    assert_eq!(b.attribute("html", "dir").await.as_deref(), Some("rtl"));
    shoot(&b, "sign-in-he").await;
    b.goto(&format!("{base}/app?lang=en")).await;
    assert!(
        b.url().await.contains("/app/sign-in"),
        "signed out: the sign-in page"
    );
    shoot(&b, "sign-in-en").await;
    b.type_into("#username", "anna").await;
    b.type_into("#password", PASSWORD).await;
    b.click("#sign-in").await;
    b.find("#inbox-empty").await;
    shoot(&b, "inbox-empty-en").await;

    // A request made through the merchant API appears in the open inbox, unreloaded.
    b.execute("window.stillThisPage = true;").await;
    let id = request(&app, &shop, "12.50", "Coffee beans").await;
    let link = format!("a[data-request=\"{id}\"]");
    assert!(
        appears(&b, &link, Duration::from_secs(2)).await,
        "not in the inbox within 2 s"
    );
    assert_eq!(
        b.execute("return window.stillThisPage === true;").await,
        json!(true)
    );
    shoot(&b, "inbox-en").await;

    b.click(&link).await;
    b.find("#pay-form").await;
    assert!(b.text("#amount").await.contains("12.50"));
    assert!(b.text("#merchant").await.contains("Shop GmbH"));
    shoot(&b, "request-en").await;
    b.type_into("#pin", PIN).await;
    b.click("#pay").await;
    b.find("#receipt").await;
    assert_eq!(b.text("#new-balance").await, "€87.50");
    shoot(&b, "receipt-en").await;
    assert_eq!(app.balance(&anna).await, "87.50");
    let hits = receiver.wait_for(1).await;
    let event: Value = serde_json::from_slice(&hits[0].body).unwrap();
    assert!(event.to_string().contains(&id), "{event}");

    // Declining with a reason.
    let other = request(&app, &shop, "40.00", "Something I did not order").await;
    b.goto(&format!("{base}/app/requests/{other}")).await;
    b.click("#decline-box summary").await;
    b.click("#reason_code option[value=not_recognised]").await;
    b.click("#decline").await;
    b.wait_text("#status", "Declined", Duration::from_secs(10))
        .await;
    let seen = app
        .get(&format!("/v1/money-requests/{other}"), Some(&shop))
        .await;
    assert_eq!(seen.ok(200)["decline_reason_code"], "not_recognised");

    // Sending money: the fee and the total before the PIN.
    b.goto(&format!("{base}/app/send")).await;
    b.type_into("#to", "ben").await;
    b.type_into("#amount", "5.00").await;
    b.click("#send-review").await;
    b.find("#review").await;
    assert_eq!(b.text("#fee").await, "€0.00");
    shoot(&b, "send-en").await;
    b.type_into("#pin", PIN).await;
    b.click("#send-confirm").await;
    b.wait_text("#notice", "Sent.", Duration::from_secs(10))
        .await;
    assert_eq!(app.balance(&anna).await, "82.50");
    shoot(&b, "money-en").await;

    // Topping up through the sandbox provider.
    b.goto(&format!("{base}/app/money/top-up")).await;
    shoot(&b, "top-up-en").await;
    b.type_into("#amount", "20").await;
    b.click("#top-up-button").await;
    b.find("#notice").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.balance(&anna).await != "102.50" {
        assert!(Instant::now() < deadline, "the top-up did not arrive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The month's statement opens as a PDF.
    let month = app.clock.now().format("%Y-%m").to_string();
    let pdf = b
        .execute_async(
            r#"const [url, done] = arguments;
            fetch(url).then(async r => {
              const bytes = new Uint8Array(await r.arrayBuffer());
              let s = ""; bytes.forEach(b => s += String.fromCharCode(b));
              done({ status: r.status, type: r.headers.get("content-type"), body: btoa(s) });
            }).catch(e => done({ error: String(e) }));"#,
            vec![json!(format!("/app/money/statements/{month}.pdf"))],
        )
        .await;
    assert_eq!(pdf["status"], 200, "{pdf}");
    assert_eq!(pdf["type"], "application/pdf");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(pdf["body"].as_str().unwrap())
        .unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::write(dir.join("app-statement.pdf"), &bytes).unwrap();

    b.goto(&format!("{base}/app/money/withdraw")).await;
    shoot(&b, "withdraw-en").await;
    b.goto(&format!("{base}/app/settings")).await;
    // The notification switch: one of "on" and "off" once the worker is ready, never both.
    b.find("#notifications").await;
    let shown = b
        .execute("return ['push-on','push-off'].filter(id => getComputedStyle(document.getElementById(id)).display !== 'none').length;")
        .await;
    assert!(
        shown.as_u64().unwrap() <= 1,
        "both notification buttons shown"
    );
    shoot(&b, "settings-en").await;

    // The same screens in Hebrew (right to left).
    let pending = request(&app, &shop, "7.25", "חלב ולחם").await;
    for (path, name) in [
        ("/app?lang=he".to_string(), "inbox"),
        (format!("/app/requests/{pending}"), "request"),
        (format!("/app/requests/{id}"), "receipt"),
        ("/app/money".to_string(), "money"),
        ("/app/send".to_string(), "send"),
        ("/app/money/top-up".to_string(), "top-up"),
        ("/app/money/withdraw".to_string(), "withdraw"),
        ("/app/settings".to_string(), "settings"),
    ] {
        b.goto(&format!("{base}{path}")).await;
        assert_eq!(
            b.attribute("html", "dir").await.as_deref(),
            Some("rtl"),
            "{path}"
        );
        shoot(&b, &format!("{name}-he")).await;
    }
    b.goto(&format!("{base}/app?lang=en")).await;

    // With a passkey, the app asks for it with the PIN, and the payment records both.
    let authenticator = b.add_virtual_authenticator().await;
    let registered = b
        .execute_async(REGISTER_SCRIPT, vec![json!(anna), json!(PASSWORD)])
        .await;
    assert_eq!(registered["status"], 201, "{registered}");
    let keyed = request(&app, &shop, "3.00", "Passkey coffee").await;
    b.goto(&format!("{base}/app/requests/{keyed}")).await;
    let note = b.text("#passkey-note").await;
    assert!(
        note.contains("3.00") && note.contains("Shop GmbH"),
        "{note}"
    );
    b.type_into("#pin", PIN).await;
    b.click("#pay").await;
    b.find("#receipt").await;
    let signed = b.authenticator_credentials(&authenticator).await;
    assert!(signed[0]["signCount"].as_u64().unwrap() >= 1, "{signed:?}");
    let factors = payment_factors(&app);
    assert_eq!(factors.last().unwrap().as_deref(), Some("pin+passkey"));

    // Installable: the manifest parses without errors and the worker is active.
    let manifest = b.cdp("Page.getAppManifest", json!({})).await;
    assert_eq!(manifest["errors"], json!([]), "{manifest}");
    assert!(manifest["url"]
        .as_str()
        .unwrap()
        .ends_with("/app/manifest.webmanifest"));
    let worker = b
        .execute_async(
            "const done = arguments[0]; navigator.serviceWorker.ready.then(r => done(r.active && r.active.state));",
            vec![],
        )
        .await;
    assert_eq!(worker, "activated");
    // The network cut (the server gone): the app opens its cached shell and says so.
    app.stop().await;
    b.goto(&format!("{base}/app")).await;
    b.find("#offline-page").await;
    assert!(b.text("h1").await.contains("No connection"));
    shoot(&b, "offline-en").await;
    b.quit().await;
}
