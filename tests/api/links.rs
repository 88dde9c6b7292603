//! Payment links and the hosted page: in a real browser (Chromium through WebDriver),
//! over HTTP for the security rules, with real SMTP and SMS receivers on loopback.

use crate::browser::Browser;
use crate::helpers::{TestApp, ADMIN_TOKEN, PASSWORD, PIN};
use crate::receiver::Receiver;
use crate::smtp;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A Corporate+ shop whose callbacks go to `receiver`, and payer `anna` with 100 EUR.
async fn shop_and_payer(app: &TestApp, receiver: &Receiver) -> (String, String) {
    let shop = app.corporate_plus("shop").await;
    app.put(
        "/v1/callback-url",
        Some(&shop),
        json!({"url": receiver.url()}),
    )
    .await
    .ok(200);
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    (shop, anna)
}

async fn link(app: &TestApp, shop: &str, extra: Value) -> Value {
    let mut body =
        json!({"amount": "12.50", "description": "Two sourdough loaves", "reference": "order-77"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.create_request(shop, body).await.ok(201).clone()
}

/// The request's hosted page on this test server (`pay_url` names the configured
/// public URL, which a test server on a random port does not have).
fn page_url(app: &TestApp, mr: &Value) -> String {
    format!("{}/pay/{}", app.address, mr["id"].as_str().unwrap())
}

/// A phone-sized browser on the request's page, logged in as `username` through the form.
async fn logged_in(app: &TestApp, mr: &Value, username: &str) -> Browser {
    let b = Browser::start(390).await;
    b.goto(&page_url(app, mr)).await;
    b.type_into("#username", username).await;
    b.type_into("#password", PASSWORD).await;
    b.click("#login-button").await;
    b
}

async fn history(app: &TestApp, shop: &str, id: &str) -> Vec<String> {
    app.get(&format!("/v1/money-requests/{id}/events"), Some(shop))
        .await
        .ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// (a) Open link → log in → PIN → paid page: the money moves once, the callback goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_pays_an_open_link_with_login_and_pin() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, anna) = shop_and_payer(&app, &receiver).await;
    let mr = link(&app, &shop, json!({})).await;
    assert_eq!(mr["kind"], "link");
    let id = mr["id"].as_str().unwrap();
    for width in [390, 1280] {
        let b = Browser::start(width).await;
        b.goto(&page_url(&app, &mr)).await;
        assert!(b.text("#amount").await.contains("12.50"));
        assert!(b.text("#merchant").await.contains("Shop"));
        // The app first on a phone; the QR code (to scan with the phone) on a wide screen.
        let qr_shown = b
            .execute("return getComputedStyle(document.querySelector('#with-app .qr')).display !== 'none';")
            .await;
        assert_eq!(
            qr_shown,
            serde_json::json!(width >= 700),
            "QR at {width} px"
        );
        assert!(b
            .attribute("#open-in-app", "href")
            .await
            .unwrap()
            .ends_with(&format!("/app/requests/{id}")));
        b.fit_height(width).await;
        b.screenshot(&format!("pay-open-link-{width}")).await;
        b.quit().await;
    }
    let b = logged_in(&app, &mr, "anna").await;
    b.wait_text("#pay-here", "@anna", Duration::from_secs(10))
        .await;
    assert!(
        b.text("#balance").await.contains("100.00"),
        "the payer sees their balance"
    );
    b.fit_height(390).await;
    b.screenshot("pay-logged-in-390").await;
    b.type_into("#pin", PIN).await;
    b.click("#pay").await;
    b.wait_text("#status", "Paid", Duration::from_secs(10))
        .await;
    assert!(b.text("#result").await.contains("Thank you"));
    b.screenshot("pay-paid-390").await;
    b.quit().await;

    assert_eq!(app.balance(&anna).await, "87.50");
    let view = app
        .get(&format!("/v1/money-requests/{id}"), Some(&shop))
        .await;
    assert_eq!(view.ok(200)["status"], "approved");
    assert_eq!(view.ok(200)["paid_by"], "anna");
    let hits = receiver.wait_for(1).await;
    assert_eq!(hits[0].json()["type"], "money_request.approved");
    assert_eq!(hits[0].json()["data"]["id"], id);
    assert_eq!(app.ledger_report().await["ok"], true);
}

/// (b) "Send it to my app": the page waits, the payer approves in the app, the open page
/// turns "paid" by itself (SSE) and goes back to the merchant's return_url.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_send_to_app_turns_paid_live_and_returns_to_the_shop() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, anna) = shop_and_payer(&app, &receiver).await;
    let back = format!("{}/health?order=77", app.address);
    app.put(
        "/v1/hosted-page",
        Some(&shop),
        json!({"return_origins": [app.address]}),
    )
    .await
    .ok(200);
    let mr = link(&app, &shop, json!({"return_url": back})).await;
    let id = mr["id"].as_str().unwrap();
    let b = Browser::start(1280).await;
    b.goto(&page_url(&app, &mr)).await;
    // Any name gets the same answer: whether a wallet has it stays unsaid.
    b.type_into("#app-username", "nobody-here").await;
    b.click("#send-to-app-button").await;
    b.wait_text(
        "#waiting",
        "If a PinPay wallet has this username",
        Duration::from_secs(10),
    )
    .await;
    b.type_into("#app-username", "anna").await;
    b.click("#send-to-app-button").await;
    b.wait_text(
        "#waiting",
        "you can still pay here",
        Duration::from_secs(10),
    )
    .await;
    assert!(
        b.try_find("#send-to-app").await.is_some(),
        "a push does not address the link: it can be sent again"
    );
    b.screenshot("pay-waiting-for-app-1280").await;

    // The link is now in anna's inbox; it stays open, and bert could still pay it.
    let inbox = app
        .get("/v1/wallet/money-requests?status=pending", Some(&anna))
        .await;
    assert_eq!(inbox.ok(200)["data"][0]["id"], id);
    let bert = app.wallet_user("bert").await;
    app.deposit("bert", "50.00").await.ok(201);
    assert_eq!(history(&app, &shop, id).await, ["created", "pushed"]);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let approved_at = Instant::now();
    app.approve(&anna, id, PIN).await.ok(200);
    b.wait_text("#status", "Paid", Duration::from_secs(10))
        .await;
    let took = approved_at.elapsed();
    // Under the 5 s fallback poll: the SSE wake-up, not polling, turned the page.
    assert!(
        took < Duration::from_secs(4),
        "page turned paid after {took:?}"
    );
    eprintln!("page turned paid {took:?} after the approval");
    b.screenshot("pay-paid-live-1280").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = b.url().await;
        if url.contains("/health?order=77") {
            assert!(url.contains(&format!("money_request={id}")), "{url}");
            assert!(url.contains("status=approved"), "{url}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never returned to the shop: {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.quit().await;
    assert_eq!(app.balance(&anna).await, "87.50");
    assert_eq!(app.balance(&bert).await, "50.00");
}

/// (c) Five wrong PINs on the page block the PIN; nothing moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_wrong_pin_five_times_blocks_and_moves_nothing() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, anna) = shop_and_payer(&app, &receiver).await;
    let mr = link(&app, &shop, json!({})).await;
    let b = logged_in(&app, &mr, "anna").await;
    for attempt in 1..=5 {
        b.type_into("#pin", "000000").await;
        b.click("#pay").await;
        let wanted = if attempt < 5 {
            format!("Attempts left: {}", 5 - attempt)
        } else {
            "blocked".to_string()
        };
        b.wait_text("#error", &wanted, Duration::from_secs(10))
            .await;
    }
    b.fit_height(390).await;
    b.screenshot("pay-pin-blocked-390").await;
    // Even the right PIN is refused now.
    b.type_into("#pin", PIN).await;
    b.click("#pay").await;
    b.wait_text("#error", "blocked", Duration::from_secs(10))
        .await;
    b.quit().await;
    assert_eq!(app.balance(&anna).await, "100.00");
    let id = mr["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/money-requests/{id}"), Some(&shop))
            .await
            .ok(200)["status"],
        "pending"
    );
    assert_eq!(app.ledger_report().await["ok"], true);
}

/// A payer whose wallet has no PIN yet is told to set one in the app; a PIN that is not 6
/// digits (sent past the form's own check, as a script could) is named as such; a merchant
/// on its own link is told it is its own. Nothing is paid in any case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_explains_a_missing_or_malformed_pin_and_an_own_link_and_nothing_is_paid() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, anna) = shop_and_payer(&app, &receiver).await;
    app.register_private("ben").await.ok(201);
    app.deposit("ben", "100.00").await.ok(201);
    let ben = app.access_token("ben").await;
    let first = link(&app, &shop, json!({})).await;
    pay_is_refused(&app, &first, "ben", "no PIN yet", "pay-no-pin").await;

    let second = link(&app, &shop, json!({})).await;
    let page = page_url(&app, &second);
    let (csrf, cookies) = form_login(&app, &page, "anna").await;
    for pin in ["", "12345", "abcdef", "1234567", "12 345"] {
        let body = format!("csrf={csrf}&pin={pin}");
        let res = post_form(&app, format!("{page}/approve"), &cookies, body).await;
        assert_eq!(res.status().as_u16(), 422, "{pin:?}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("A PIN is exactly 6 digits."),
            "{pin:?}: {html}"
        );
    }

    // The merchant logged in on its own link is told so.
    let third = link(&app, &shop, json!({})).await;
    let own = "This is your own payment request";
    pay_is_refused(&app, &third, "shop", own, "pay-own-request").await;

    for mr in [&first, &second, &third] {
        let id = mr["id"].as_str().unwrap();
        let view = app
            .get(&format!("/v1/money-requests/{id}"), Some(&shop))
            .await;
        assert_eq!(view.ok(200)["status"], "pending");
    }
    assert_eq!(app.balance(&ben).await, "100.00");
    assert_eq!(app.balance(&anna).await, "100.00");
    assert_eq!(app.ledger_report().await["ok"], true);
}

/// Logs `username` in on the request's page in Chromium, pays with the right PIN and
/// waits for the refusal `wanted`; screenshots the page at phone and desktop width.
async fn pay_is_refused(app: &TestApp, mr: &Value, username: &str, wanted: &str, shot: &str) {
    let b = logged_in(app, mr, username).await;
    b.type_into("#pin", PIN).await;
    b.click("#pay").await;
    b.wait_text("#error", wanted, Duration::from_secs(10)).await;
    for width in [390, 1280] {
        b.fit_height(width).await;
        b.screenshot(&format!("{shot}-{width}")).await;
    }
    b.quit().await;
}

/// The CSRF cookie a page set (`pinpay_csrf=…`) and the token its forms carry.
async fn page_form(res: reqwest::Response) -> (String, String) {
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let html = res.text().await.unwrap();
    let needle = "name=\"csrf\" value=\"";
    let at = html.find(needle).expect("a form with a CSRF token") + needle.len();
    let token = html[at..].split('"').next().unwrap().to_string();
    (cookie, token)
}

/// Logs `username` in on the hosted page `page` through its form, as a browser would;
/// returns the form's CSRF token and the cookies to send with the next form.
async fn form_login(app: &TestApp, page: &str, username: &str) -> (String, String) {
    let res = app.client.get(page).send().await.unwrap();
    let (csrf_cookie, csrf) = page_form(res).await;
    let login = post_form(
        app,
        format!("{page}/login"),
        &csrf_cookie,
        login_form(&csrf, username),
    )
    .await;
    assert_eq!(login.status().as_u16(), 303);
    let session = login.headers()["set-cookie"].to_str().unwrap();
    let session = session.split(';').next().unwrap();
    (csrf, format!("{csrf_cookie}; {session}"))
}

/// The login form's fields, as the page's form encodes them.
fn login_form(csrf: &str, username: &str) -> String {
    format!(
        "csrf={csrf}&username={username}&password={}",
        PASSWORD.replace(' ', "+")
    )
}

/// Posts a form to the hosted page at `url` with `cookies`, as a browser sends it.
async fn post_form(app: &TestApp, url: String, cookies: &str, body: String) -> reqwest::Response {
    app.client
        .post(url)
        .header("cookie", cookies)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// (d) Expired, cancelled and unknown pages; (e) Hebrew is right to left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_shows_expired_cancelled_unknown_and_hebrew_pages() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, _) = shop_and_payer(&app, &receiver).await;
    let b = Browser::start(390).await;

    let cancelled = link(&app, &shop, json!({})).await;
    let id = cancelled["id"].as_str().unwrap();
    app.post(
        &format!("/v1/money-requests/{id}/cancel"),
        Some(&shop),
        json!({}),
    )
    .await
    .ok(200);
    b.goto(&page_url(&app, &cancelled)).await;
    assert_eq!(b.text("#status").await, "Cancelled");
    assert!(
        b.try_find("#login").await.is_none(),
        "no way to pay a cancelled request"
    );
    b.screenshot("pay-cancelled-390").await;

    b.goto(&format!("{}/pay/mr_doesNotExist", app.address))
        .await;
    assert!(b.text("h1").await.contains("not found"));
    b.screenshot("pay-unknown-390").await;

    let hebrew = link(&app, &shop, json!({})).await;
    b.goto(&format!("{}?lang=he", &page_url(&app, &hebrew)))
        .await;
    assert_eq!(b.attribute("html", "dir").await.as_deref(), Some("rtl"));
    assert_eq!(b.attribute("html", "lang").await.as_deref(), Some("he"));
    assert!(b.text("#status").await.contains("ממתין"));
    b.fit_height(390).await;
    b.screenshot("pay-hebrew-390").await;
    b.goto(&format!("{}?lang=de", &page_url(&app, &hebrew)))
        .await;
    assert!(b.text("#amount").await.contains("12,50"));
    b.screenshot("pay-german-390").await;

    let expiring = link(&app, &shop, json!({"expires_in": 60})).await;
    app.clock.advance(chrono::Duration::seconds(61));
    b.goto(&page_url(&app, &expiring)).await;
    assert_eq!(b.text("#status").await, "Expired");
    assert!(b.text("#result").await.contains("expired"));
    b.screenshot("pay-expired-390").await;
    b.quit().await;
}

/// Security rules of every HTML response and of the forms.
#[tokio::test]
async fn html_pages_carry_csp_and_forms_refuse_cross_site_posts() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, anna) = shop_and_payer(&app, &receiver).await;
    let mr = link(&app, &shop, json!({})).await;
    let id = mr["id"].as_str().unwrap();
    let page = format!("{}/pay/{id}", app.address);
    let raw = |url: String| app.client.get(url).send();

    for (url, status) in [
        (page.clone(), 200),
        (format!("{}/pay/mr_unknown", app.address), 404),
        (format!("{}/pay/{id}/nothing-here", app.address), 404),
    ] {
        let res = raw(url.clone()).await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{url}");
        let h = res.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with("text/html"),
            "{url}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'nonce-"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-content-type-options"], "nosniff");
    }

    // A cross-site form post: no CSRF cookie, no token. 403, and nothing happens.
    let forged = app
        .client
        .post(format!("{page}/send-to-app"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body("username=anna")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    assert!(forged.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("nonce-"));
    // A token that does not match the cookie is refused too.
    let mismatched = post_form(
        &app,
        format!("{page}/login"),
        &format!("pinpay_csrf={}", "a".repeat(48)),
        login_form(&"b".repeat(48), "anna"),
    )
    .await;
    assert_eq!(mismatched.status().as_u16(), 403);
    assert!(
        mismatched.headers().get("set-cookie").is_none(),
        "no session"
    );
    let view = app
        .get(&format!("/v1/money-requests/{id}"), Some(&shop))
        .await;
    assert_eq!(view.ok(200)["payer"], Value::Null, "not addressed");
    assert_eq!(history(&app, &shop, id).await, ["created"]);
    assert_eq!(app.balance(&anna).await, "100.00");

    // The page's own form: the token is signed for the cookie; session cookie is strict.
    let res = raw(page.clone()).await.unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let (cookie, token) = page_form(res).await;
    let nonce = cookie.trim_start_matches("pinpay_csrf=").to_string();
    // Made-up tokens fail: the cookie's own value, one character, another cookie's token.
    let (_, other_token) = page_form(raw(page.clone()).await.unwrap()).await;
    for forged in [nonce.as_str(), "a", other_token.as_str()] {
        let res = post_form(
            &app,
            format!("{page}/login"),
            &cookie,
            login_form(forged, "anna"),
        )
        .await;
        assert_eq!(res.status().as_u16(), 403, "{forged}");
    }
    // The right token from another site's page is refused too.
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let res = app
            .client
            .post(format!("{page}/login"))
            .header("cookie", &cookie)
            .header(name, value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(login_form(&token, "anna"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 403, "{name}: {value}");
    }
    let login = app
        .client
        .post(format!("{page}/login"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .header("origin", app.address.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(login_form(&token, "anna"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let session = login.headers()["set-cookie"].to_str().unwrap();
    assert!(session.starts_with("pinpay_pay="), "{session}");
    for part in ["HttpOnly", "SameSite=Strict", "Max-Age=900", "Path=/pay"] {
        assert!(session.contains(part), "{session}");
    }

    // Embedding: none by default; the merchant may allow its shop.
    let settings = app
        .put(
            "/v1/hosted-page",
            Some(&shop),
            json!({"frame_ancestors": ["https://shop.example", "https://shop.example/"]}),
        )
        .await;
    assert_eq!(
        settings.ok(200)["frame_ancestors"],
        json!(["https://shop.example"])
    );
    let csp = raw(page.clone()).await.unwrap().headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors https://shop.example"),
        "{csp}"
    );
    app.put(
        "/v1/hosted-page",
        Some(&shop),
        json!({"frame_ancestors": ["https://shop.example/path"]}),
    )
    .await
    .problem(422, "validation_failed");
    app.put(
        "/v1/hosted-page",
        Some(&shop),
        json!({"frame_ancestors": ["*"]}),
    )
    .await
    .problem(422, "validation_failed");
}

/// A page framed by an origin the merchant did not allow is refused by the browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_refuses_to_frame_the_page_for_a_disallowed_origin() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, _) = shop_and_payer(&app, &receiver).await;
    let mr = link(&app, &shop, json!({})).await;
    let pay_url = &page_url(&app, &mr).to_string();
    // The "shop": another origin (localhost vs 127.0.0.1) serving a page with an iframe.
    let shop_page =
        format!("<!DOCTYPE html><iframe id=f src=\"{pay_url}\" width=400 height=400></iframe>");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = actix_web::HttpServer::new(move || {
        let body = shop_page.clone();
        actix_web::App::new().default_service(actix_web::web::to(move || {
            let body = body.clone();
            async move {
                actix_web::HttpResponse::Ok()
                    .content_type("text/html")
                    .body(body)
            }
        }))
    })
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    let b = Browser::start(1280).await;
    let framed_origin = format!("http://localhost:{port}");
    b.goto(&format!("{framed_origin}/shop")).await;
    b.find("#f").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let loaded = b.frame_text("#f").await;
    assert!(
        !loaded.contains("12.50"),
        "the page rendered inside a disallowed frame: {loaded:?}"
    );
    b.screenshot("pay-framed-refused-1280").await;
    // Allowed: the same frame shows the page.
    app.put(
        "/v1/hosted-page",
        Some(&shop),
        json!({"frame_ancestors": [framed_origin]}),
    )
    .await
    .ok(200);
    b.goto(&format!("http://localhost:{port}/shop")).await;
    b.find("#f").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let loaded = b.frame_text("#f").await;
    assert!(loaded.contains("12.50"), "allowed origin: {loaded:?}");
    b.screenshot("pay-framed-allowed-1280").await;
    b.quit().await;
    handle.stop(false).await;
}

/// Two instances on one database: the page's stream on A turns "approved" when the
/// approval goes through B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_stream_on_one_instance_sees_an_approval_through_another() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, anna) = shop_and_payer(&app, &receiver).await;
    let mr = link(&app, &shop, json!({})).await;
    let id = mr["id"].as_str().unwrap().to_string();
    let (other, other_handle) = app.second_instance().await;
    let mut stream = app
        .client
        .get(format!("{}/pay/{id}/events", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let first = String::from_utf8(stream.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.contains("\"status\":\"pending\""), "{first}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let approved_at = Instant::now();
    let res = app
        .client
        .post(format!("{other}/v1/wallet/money-requests/{id}/approve"))
        .bearer_auth(&anna)
        .json(&json!({"pin": PIN}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let mut seen = String::new();
    while !seen.contains("\"status\":\"approved\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("the stream on A never said approved")
            .unwrap()
            .expect("stream ended early");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let took = approved_at.elapsed();
    eprintln!("instance A's stream saw B's approval after {took:?}");
    let postgres = std::env::var("PINPAY_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty());
    if postgres {
        // NOTIFY, not the 5 s fallback poll.
        assert!(took < Duration::from_secs(4), "{took:?}");
    }
    // A final status ends the stream.
    let rest = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_none(), "the stream ends after the final status");
    other_handle.stop(true).await;
}

/// The wallet's stream pushes a new request addressed to it, then its approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_stream_pushes_new_requests_and_changes() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, anna) = shop_and_payer(&app, &receiver).await;
    let mut stream = app
        .client
        .get(format!("{}/v1/wallet/events", app.address))
        .bearer_auth(&anna)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    stream.chunk().await.unwrap();
    let mr = app
        .create_request(&shop, json!({"payer": "anna", "amount": "3.00"}))
        .await
        .ok(201)
        .clone();
    let id = mr["id"].as_str().unwrap();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, &format!("\"id\":\"{id}\"")).await;
    assert!(seen.contains("event: money_request"));
    assert!(seen.contains("\"status\":\"pending\""));
    app.approve(&anna, id, PIN).await.ok(200);
    read_until(&mut stream, &mut seen, "\"status\":\"approved\"").await;
    // Another wallet's stream gets nothing of anna's.
    let bert = app.wallet_user("bert").await;
    let res = app.get("/v1/wallet/events", None).await;
    assert_eq!(res.status, 401);
    drop(bert);
}

/// Reads the event stream until `wanted` has been seen (10 s at most per chunk).
async fn read_until(stream: &mut reqwest::Response, seen: &mut String, wanted: &str) {
    while !seen.contains(wanted) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("event within 10 s")
            .unwrap()
            .unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

/// Decodes a quoted-printable body enough to read the link in it.
fn unfold_qp(data: &str) -> String {
    data.replace("=\n", "").replace("=3D", "=")
}

/// E-mail through a real SMTP server; a send queued while the server cannot reach it
/// survives a restart and is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_are_e_mailed_through_smtp_and_a_queued_send_survives_a_restart() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, _) = shop_and_payer(&app, &receiver).await;
    let smtp_port = Receiver::free_port();
    let app = app
        .restart_with(|c| {
            c.smtp = Some(pinpay::config::SmtpConfig {
                host: "127.0.0.1".into(),
                port: smtp_port,
                tls: pinpay::config::SmtpTls::None,
                username: None,
                password: None,
                from: "PinPay <links@pinpay.test>".into(),
            });
        })
        .await;
    let mr = link(&app, &shop, json!({})).await;
    let id = mr["id"].as_str().unwrap().to_string();
    // Nothing listens on the SMTP port yet: the first attempt fails and is retried.
    let sent = app
        .post(
            &format!("/v1/money-requests/{id}/send"),
            Some(&shop),
            json!({"channel": "email", "to": "Anna@Example.com", "language": "de"}),
        )
        .await;
    assert_eq!(sent.ok(202)["status"], "queued");
    assert_eq!(sent.ok(202)["to"], "Anna@example.com");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !history(&app, &shop, &id)
        .await
        .contains(&"link_send_failed".to_string())
    {
        assert!(Instant::now() < deadline, "no failed attempt recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let app = app.restart().await;
    let mails = smtp::start(smtp_port).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while mails.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the queued e-mail never arrived after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "delivered once");
    assert_eq!(mails[0].to, "Anna@example.com");
    let data = unfold_qp(&mails[0].data);
    assert!(data.contains("Subject:"), "{data}");
    eprintln!("{data}");
    assert!(
        data.contains("bittet Sie"),
        "German subject or body: {data}"
    );
    assert!(
        data.contains(&format!("/pay/{id}?lang=de")),
        "the link: {data}"
    );
    let events = history(&app, &shop, &id).await;
    assert_eq!(
        events.iter().filter(|e| *e == "link_sent").count(),
        1,
        "{events:?}"
    );
}

/// SMS through a loopback HTTP gateway; bad addresses and the 6th send in an hour are
/// refused with problem+json and queue nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_go_by_sms_and_bad_or_too_many_sends_are_refused() {
    let gateway = Receiver::start().await;
    let url = format!("{}/sms", gateway.url());
    let app = TestApp::spawn_with(move |c| {
        c.sms = Some(pinpay::config::SmsConfig {
            url,
            token: Some(pinpay::config::Secret::new("gateway-token")),
            sender: "PinPay Shop".into(),
        });
    })
    .await;
    let receiver = Receiver::start().await;
    let (shop, _) = shop_and_payer(&app, &receiver).await;
    let mr = link(&app, &shop, json!({})).await;
    let id = mr["id"].as_str().unwrap().to_string();
    let path = format!("/v1/money-requests/{id}/send");
    let send = |body: Value| app.post(&path, Some(&shop), body);

    let queued = send(json!({"channel": "sms", "to": "+4915112345678"})).await;
    let queued = queued.ok(202).clone();
    let hits = gateway.wait_for(1).await;
    let sms: Value = hits[0].json();
    // The message id a gateway deduplicates on: the send's id, the same on every retry.
    assert_eq!(sms["id"], queued["id"], "{sms}");
    assert_eq!(sms["to"], "+4915112345678");
    assert_eq!(sms["from"], "PinPay Shop");
    assert_eq!(hits[0].authorization, "Bearer gateway-token");
    assert!(
        sms["text"]
            .as_str()
            .unwrap()
            .contains(&format!("/pay/{id}")),
        "{sms}"
    );

    for (body, field) in [
        (json!({"channel": "email", "to": "not-an-address"}), "to"),
        (
            json!({"channel": "email", "to": "a@b.de\r\nBcc: x@y.de"}),
            "to",
        ),
        (json!({"channel": "sms", "to": "015112345678"}), "to"),
        (json!({"channel": "sms", "to": "+49 151 1234"}), "to"),
        (
            json!({"channel": "email", "to": "a@b.de", "language": "es"}),
            "language",
        ),
    ] {
        let res = send(body).await;
        assert_eq!(res.problem(422, "validation_failed")["field"], field);
    }
    send(json!({"channel": "pigeon", "to": "x"}))
        .await
        .problem(422, "invalid_body");
    for _ in 2..=5 {
        send(json!({"channel": "email", "to": "anna@example.com"}))
            .await
            .ok(202);
    }
    let sixth = send(json!({"channel": "email", "to": "anna@example.com"})).await;
    sixth.problem(429, "too_many_sends");
    let queued = history(&app, &shop, &id)
        .await
        .iter()
        .filter(|e| *e == "link_send_queued")
        .count();
    assert_eq!(queued, 5, "the refused sends queued nothing");

    // Only pending requests can be sent; other merchants' requests are not found.
    app.post(
        &format!("/v1/money-requests/{id}/cancel"),
        Some(&shop),
        json!({}),
    )
    .await
    .ok(200);
    let other = app.corporate_plus("other").await;
    app.post(
        &format!("/v1/money-requests/{id}/send"),
        Some(&other),
        json!({"channel": "sms", "to": "+4915112345678"}),
    )
    .await
    .problem(404, "not_found");
    let _ = ADMIN_TOKEN;
}

/// Links default to 72 hours, carry their kind and return URL, and list by kind.
#[tokio::test]
async fn links_last_72_hours_and_list_by_kind() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, _) = shop_and_payer(&app, &receiver).await;
    // The page returns only to origins the merchant registered (no open redirect).
    let res = app
        .create_request(
            &shop,
            json!({"amount": "1.00", "return_url": "https://shop.example/thanks"}),
        )
        .await;
    assert_eq!(
        res.problem(422, "return_url_not_registered")["field"],
        "return_url"
    );
    let settings = app
        .put(
            "/v1/hosted-page",
            Some(&shop),
            json!({"return_origins": ["https://shop.example"]}),
        )
        .await;
    assert_eq!(
        settings.ok(200)["return_origins"],
        json!(["https://shop.example"])
    );
    assert_eq!(settings.ok(200)["frame_ancestors"], json!([]));
    // A field left out stays; null is not a list.
    let null = app
        .put(
            "/v1/hosted-page",
            Some(&shop),
            json!({"return_origins": null}),
        )
        .await;
    assert_eq!(null.status, 422, "{}", null.body);
    let kept = app.get("/v1/hosted-page", Some(&shop)).await;
    assert_eq!(
        kept.ok(200)["return_origins"],
        json!(["https://shop.example"])
    );
    let elsewhere = app
        .create_request(
            &shop,
            json!({"amount": "1.00", "return_url": "https://evil.example/phish"}),
        )
        .await;
    elsewhere.problem(422, "return_url_not_registered");
    let open = link(
        &app,
        &shop,
        json!({"return_url": "https://shop.example/thanks?o=1"}),
    )
    .await;
    let created =
        chrono::DateTime::parse_from_rfc3339(open["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(open["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_hours(), 72);
    assert_eq!(open["return_url"], "https://shop.example/thanks?o=1");
    let addressed = app
        .create_request(&shop, json!({"payer": "anna", "amount": "1.00"}))
        .await
        .ok(201)
        .clone();
    assert_eq!(addressed["kind"], "addressed");
    assert!(addressed["pay_url"]
        .as_str()
        .unwrap()
        .ends_with(addressed["id"].as_str().unwrap()));
    let links = app.get("/v1/money-requests?kind=link", Some(&shop)).await;
    let ids: Vec<_> = links.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, vec![open["id"].clone()]);
    let res = app
        .get("/v1/money-requests?kind=addressed", Some(&shop))
        .await;
    assert_eq!(res.ok(200)["data"][0]["id"], addressed["id"]);
    app.get("/v1/money-requests?kind=other", Some(&shop))
        .await
        .problem(400, "invalid_query");
    for bad in [
        "http://shop.example/x",
        "ftp://shop.example",
        "not a url",
        "https://u:p@shop.example/",
    ] {
        let res = app
            .create_request(&shop, json!({"amount": "1.00", "return_url": bad}))
            .await;
        // Tests run with private targets allowed (http on loopback); plain http to a
        // public host is still http and allowed there, so only check the others.
        if bad.starts_with("http://") {
            continue;
        }
        assert_eq!(
            res.problem(422, "validation_failed")["field"],
            "return_url",
            "{bad}"
        );
    }
    // A link is paid at most once.
    let anna = app.access_token("anna").await;
    let id = open["id"].as_str().unwrap();
    app.approve(&anna, id, PIN).await.ok(200);
    app.approve(&anna, id, PIN)
        .await
        .problem(409, "request_not_pending");
}

/// The page's "send it to my app" form, posted by a visitor who is not signed in.
async fn push_form(app: &TestApp, page: &str, username: &str) -> reqwest::Response {
    let res = app.client.get(page).send().await.unwrap();
    let (cookie, csrf) = page_form(res).await;
    post_form(
        app,
        format!("{page}/send-to-app"),
        &cookie,
        format!("csrf={csrf}&username={username}"),
    )
    .await
}

/// A stranger naming the customer's wallet on the page no longer locks the customer out:
/// the link is pushed to that wallet's inbox and stays payable by anyone until paid; the
/// answer does not tell known names from unknown ones; pushes are throttled.
#[tokio::test]
async fn naming_a_wallet_on_a_link_pushes_it_without_locking_out_the_real_payer() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, anna) = shop_and_payer(&app, &receiver).await;
    let bert = app.wallet_user("bert").await;
    app.deposit("bert", "50.00").await.ok(201);
    let mr = link(&app, &shop, json!({})).await;
    let id = mr["id"].as_str().unwrap();
    let page = page_url(&app, &mr);

    // Known and unknown names: the same answer.
    let known = push_form(&app, &page, "anna").await;
    let unknown = push_form(&app, &page, "no-such-wallet").await;
    assert_eq!(known.status().as_u16(), 303);
    assert_eq!(unknown.status().as_u16(), 303);
    assert_eq!(known.headers()["location"], unknown.headers()["location"]);
    assert!(known.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with("&sent=1"));

    // It is in anna's inbox, and still an open link for the merchant.
    let inbox = app.get("/v1/wallet/money-requests", Some(&anna)).await;
    assert_eq!(inbox.ok(200)["data"][0]["id"], id);
    let view = app
        .get(&format!("/v1/money-requests/{id}"), Some(&shop))
        .await;
    assert_eq!(view.ok(200)["payer"], Value::Null);
    // The real customer (bert) pays it; the first approval wins.
    app.approve(&bert, id, PIN).await.ok(200);
    app.approve(&anna, id, PIN)
        .await
        .problem(409, "request_not_pending");
    assert_eq!(app.balance(&bert).await, "37.50");
    assert_eq!(app.balance(&anna).await, "100.00");
    assert_eq!(
        history(&app, &shop, id).await,
        ["created", "pushed", "approved"]
    );
    // The shop's fee line names the payment by its id and the shop's order reference.
    let txns = app.get("/v1/transactions?kind=fee", Some(&shop)).await;
    let fee = txns.ok(200)["data"][0]["description"].clone();
    assert_eq!(fee, format!("Fee on payment {id} (order-77)"), "{fee}");

    // Five pushes on one link, then it backs off (whatever the names).
    let other = link(&app, &shop, json!({})).await;
    let other_page = page_url(&app, &other);
    for name in ["anna", "bert", "x1", "x2", "x3"] {
        assert_eq!(push_form(&app, &other_page, name).await.status(), 303);
    }
    let refused = push_form(&app, &other_page, "anna").await;
    assert_eq!(refused.status().as_u16(), 429);
    assert!(refused.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(app.ledger_report().await["ok"], true);
}

/// Logging out ends the page session on the server: a copy of the session cookie kept
/// from before (as an attacker with a stolen cookie would) signs in nobody afterwards.
#[tokio::test]
async fn logging_out_ends_the_page_session_on_the_server() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, anna) = shop_and_payer(&app, &receiver).await;
    let mr = link(&app, &shop, json!({})).await;
    let page = page_url(&app, &mr);
    let (csrf, cookies) = form_login(&app, &page, "anna").await;
    let signed_in = |cookies: String| {
        let (app, page) = (&app, page.clone());
        async move {
            let res = app
                .client
                .get(&page)
                .header("cookie", cookies)
                .send()
                .await
                .unwrap();
            res.text().await.unwrap().contains("@anna")
        }
    };
    assert!(signed_in(cookies.clone()).await, "signed in before");
    // A form's address opened in the browser (a reload, a bookmark) leads to the page.
    for form in ["login", "approve", "decline", "send-to-app", "logout"] {
        let res = app
            .client
            .get(format!("{page}/{form}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 303, "{form}");
        let to = res.headers()["location"].to_str().unwrap().to_string();
        assert!(
            to.starts_with(&format!("/pay/{}?lang=", mr["id"].as_str().unwrap())),
            "{to}"
        );
    }
    // An id no request can have (a control character) is no page, and ends nothing.
    let bad = format!("{}/pay/a%0a", app.address);
    let res = app
        .client
        .get(format!("{bad}/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let res = post_form(
        &app,
        format!("{bad}/logout"),
        &cookies,
        format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(res.status().as_u16(), 404);
    assert!(signed_in(cookies.clone()).await, "still signed in");
    let out = post_form(
        &app,
        format!("{page}/logout"),
        &cookies,
        format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(out.status().as_u16(), 303);
    // The old cookie, replayed: not signed in, and it cannot pay.
    assert!(
        !signed_in(cookies.clone()).await,
        "the ended session is refused"
    );
    let pay = post_form(
        &app,
        format!("{page}/approve"),
        &cookies,
        format!("csrf={csrf}&pin={PIN}"),
    )
    .await;
    assert_eq!(pay.status().as_u16(), 401);
    assert_eq!(app.balance(&anna).await, "100.00");
}

/// A wallet's inbox pages through requests addressed to it and links pushed to it
/// together, newest first, each once (two branches merged page by page).
#[tokio::test]
async fn the_inbox_pages_addressed_requests_and_pushed_links_together() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (shop, anna) = shop_and_payer(&app, &receiver).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mr = if i % 2 == 0 {
            app.create_request(&shop, json!({"payer": "anna", "amount": "1.00"}))
                .await
                .ok(201)
                .clone()
        } else {
            let mr = link(&app, &shop, json!({})).await;
            let page = page_url(&app, &mr);
            assert_eq!(push_form(&app, &page, "anna").await.status(), 303);
            mr
        };
        ids.push(mr["id"].as_str().unwrap().to_string());
    }
    ids.reverse();
    let mut seen: Vec<String> = Vec::new();
    let mut path = "/v1/wallet/money-requests?limit=2".to_string();
    loop {
        let res = app.get(&path, Some(&anna)).await;
        let body = res.ok(200).clone();
        let data = body["data"].as_array().unwrap();
        seen.extend(data.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        if body["has_more"] != true {
            break;
        }
        let last = data.last().unwrap()["id"].as_str().unwrap();
        path = format!("/v1/wallet/money-requests?limit=2&starting_after={last}");
    }
    assert_eq!(seen, ids);
}
