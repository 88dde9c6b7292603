//! The wallet app (`/app`) over HTTP, as a browser without scripts would use it: a cookie
//! jar, forms with their CSRF tokens, redirects followed by hand. Every page is checked
//! for its security headers and every form for its token; money moves only through the
//! same use cases as the API, and the ledger stays exact.

use crate::helpers::{TestApp, PASSWORD, PIN};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A browser without scripts: cookies by name (the app's all live under `/app`).
pub struct Visitor<'a> {
    app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
    /// The `Set-Cookie` headers of the last response, as sent.
    pub set_cookies: Vec<String>,
    /// The CSRF token of the last page's forms.
    pub csrf: String,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl<'a> Visitor<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn take(&mut self, res: reqwest::Response) -> Page {
        self.set_cookies = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &self.set_cookies {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let location = headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let html = res.text().await.unwrap();
        let needle = "name=\"csrf\" value=\"";
        if let Some(at) = html.find(needle) {
            self.csrf = html[at + needle.len()..]
                .split('"')
                .next()
                .unwrap()
                .to_string();
        }
        Page {
            status,
            location,
            headers,
            html,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let res = self
            .app
            .client
            .get(format!("{}{path}", self.app.address))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.take(res).await
    }

    /// Posts `fields` (and the page's CSRF token) as a form of PinPay's own origin.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all, "same-origin").await
    }

    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)], site: &str) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let res = self
            .app
            .client
            .post(format!("{}{path}", self.app.address))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", site)
            .body(body)
            .send()
            .await
            .unwrap();
        self.take(res).await
    }

    /// Signs `username` in through the sign-in form.
    pub async fn sign_in(&mut self, username: &str) -> Page {
        let page = self.get("/app/sign-in").await;
        assert_eq!(page.status, 200);
        let done = self
            .post(
                "/app/sign-in",
                &[
                    ("username", username),
                    ("password", PASSWORD),
                    ("next", "/app"),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.html);
        assert_eq!(done.location.as_deref(), Some("/app"));
        done
    }
}

/// The security headers every app page carries, and a CSRF token in every form.
#[track_caller]
pub fn assert_secure_page(page: &Page) {
    let h = |name: &str| {
        page.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let csp = h("content-security-policy");
    for part in [
        "default-src 'none'",
        "script-src 'nonce-",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h("x-frame-options"), "DENY");
    assert_eq!(h("referrer-policy"), "no-referrer");
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("cache-control"), "no-store");
    assert!(h("content-type").starts_with("text/html"));
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    for tag in ["<script", "<style"] {
        for piece in page.html.split(tag).skip(1) {
            assert!(
                piece.starts_with(&format!(" nonce=\"{nonce}\"")),
                "a {tag} without this response's nonce"
            );
        }
    }
    for form in page.html.split("<form method=\"post\"").skip(1) {
        let form = form.split("</form>").next().unwrap();
        assert!(
            form.contains("name=\"csrf\" value=\""),
            "a form without CSRF token: {form}"
        );
    }
}

/// The attribute part of a `Set-Cookie` for `name` in the last response.
fn set_cookie<'p>(v: &'p Visitor<'_>, name: &str) -> &'p str {
    v.set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", v.set_cookies))
}

async fn addressed(app: &TestApp, shop: &str, payer: &str, amount: &str) -> String {
    let mr = app
        .create_request(
            shop,
            json!({"payer": payer, "amount": amount, "description": "Coffee beans", "reference": "ORD-7"}),
        )
        .await;
    mr.ok(201)["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_app_signs_in_with_safe_cookies_and_refuses_forged_forms() {
    let app = TestApp::spawn_with(|c| c.public_url = "https://pinpay.test".into()).await;
    app.wallet_user("anna").await;
    let mut v = Visitor::new(&app);

    let home = v.get("/app").await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location.as_deref(), Some("/app/sign-in?next=%2Fapp"));
    let form = v.get("/app/sign-in").await;
    assert_secure_page(&form);
    let csrf = set_cookie(&v, "pinpay_csrf");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/app", "Secure"] {
        assert!(csrf.contains(flag), "{csrf}");
    }

    // Without the token, with another cookie's token, or from another site: refused.
    let token = v.csrf.clone();
    let creds = [("username", "anna"), ("password", PASSWORD)];
    let none = v.post_raw("/app/sign-in", &creds, "same-origin").await;
    assert_eq!(none.status, 403);
    assert!(none.html.contains("This form has expired"), "{}", none.html);
    let mut stranger = Visitor::new(&app);
    stranger.get("/app/sign-in").await;
    let mut with_token = vec![("csrf", token.as_str())];
    with_token.extend_from_slice(&creds);
    assert_eq!(
        stranger
            .post_raw("/app/sign-in", &with_token, "same-origin")
            .await
            .status,
        403
    );
    assert_eq!(
        v.post_raw("/app/sign-in", &with_token, "cross-site")
            .await
            .status,
        403
    );
    assert!(
        !v.cookies.contains_key("pinpay_app"),
        "no session from a refused form"
    );

    // A wrong password: the page again with the reason, and no session.
    let wrong = v
        .post(
            "/app/sign-in",
            &[("username", "anna"), ("password", "not the password")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_secure_page(&wrong);
    assert!(wrong
        .html
        .contains("The username or password is not correct."));
    assert!(!v.cookies.contains_key("pinpay_app"));

    v.sign_in("anna").await;
    let session = set_cookie(&v, "pinpay_app");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/app", "Secure"] {
        assert!(session.contains(flag), "{session}");
    }
    assert!(
        !session.contains("Max-Age"),
        "a browser-session cookie: {session}"
    );
    // Where `next` points off the app, sign-in lands on the inbox instead.
    let mut other = Visitor::new(&app);
    other.get("/app/sign-in").await;
    let off = other
        .post(
            "/app/sign-in",
            &[
                ("username", "anna"),
                ("password", PASSWORD),
                ("next", "//evil.test/x"),
            ],
        )
        .await;
    assert_eq!(off.location.as_deref(), Some("/app"));

    for path in [
        "/app",
        "/app/money",
        "/app/send",
        "/app/settings",
        "/app/money/top-up",
    ] {
        let page = v.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_secure_page(&page);
        assert!(page.html.contains("<bdi>@anna</bdi>"), "{path}");
    }
    for odd in ["/app/requests/%C2%84", "/app/requests/x'y/approve"] {
        let mut stranger = Visitor::new(&app);
        assert_eq!(stranger.get(odd).await.status, 404, "{odd}");
    }
    let missing = v.get("/app/requests/mr_doesnotexist").await;
    assert_eq!(missing.status, 404);
    assert!(missing.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

#[tokio::test]
async fn a_payer_approves_declines_and_reads_the_receipt_in_the_app() {
    let app = TestApp::spawn().await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    let paid = addressed(&app, &shop, "anna", "12.50").await;
    let declined = addressed(&app, &shop, "anna", "99.00").await;
    let mut v = Visitor::new(&app);
    v.sign_in("anna").await;

    let inbox = v.get("/app").await;
    assert!(inbox.html.contains(&format!("/app/requests/{paid}")));
    assert!(inbox.html.contains(&format!("/app/requests/{declined}")));
    assert!(inbox.html.contains("€100.00"));

    let confirm = v.get(&format!("/app/requests/{paid}")).await;
    assert_secure_page(&confirm);
    for shown in [
        "€12.50",
        "Coffee beans",
        "ORD-7",
        "<bdi>Shop GmbH</bdi>",
        "Attempts left before your PIN is blocked: 5",
    ] {
        assert!(confirm.html.contains(shown), "{shown} missing");
    }
    assert!(
        confirm.html.contains(&app.merchant_email("shop")),
        "the merchant's contact"
    );

    // A wrong PIN: the refusal and the attempts left on the page; nothing moves.
    let wrong = v
        .post(
            &format!("/app/requests/{paid}/approve"),
            &[("pin", "000000")],
        )
        .await;
    assert_eq!(wrong.status, 403, "{}", wrong.html);
    assert!(wrong
        .html
        .contains("The PIN is not correct. Attempts left: 4."));
    assert!(wrong
        .html
        .contains("Attempts left before your PIN is blocked: 4"));
    assert_eq!(app.balance(&anna).await, "100.00");

    let done = v
        .post(&format!("/app/requests/{paid}/approve"), &[("pin", PIN)])
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location, Some(format!("/app/requests/{paid}")));
    let receipt = v.get(&format!("/app/requests/{paid}")).await;
    assert!(receipt.html.contains("id=\"receipt\""));
    assert!(receipt.html.contains("None: paying is free for you"));
    assert!(receipt
        .html
        .contains("<dd id=\"new-balance\"><bdi>€87.50</bdi></dd>"));
    assert_eq!(app.balance(&anna).await, "87.50");
    // Approving again changes nothing.
    let again = v
        .post(&format!("/app/requests/{paid}/approve"), &[("pin", PIN)])
        .await;
    assert_eq!(again.status, 409);
    assert!(again.html.contains("no longer waiting for payment"));
    assert_eq!(app.balance(&anna).await, "87.50");

    v.get(&format!("/app/requests/{declined}")).await;
    let no = v
        .post(
            &format!("/app/requests/{declined}/decline"),
            &[
                ("reason_code", "wrong_amount"),
                ("reason", "Ordered one, not nine"),
            ],
        )
        .await;
    assert_eq!(no.status, 303);
    let seen = app
        .get(&format!("/v1/money-requests/{declined}"), Some(&shop))
        .await;
    let seen = seen.ok(200);
    assert_eq!(seen["status"], "declined");
    assert_eq!(seen["decline_reason_code"], "wrong_amount");
    assert_eq!(seen["decline_reason"], "Ordered one, not nine");

    // A forged decline (another site) changes nothing.
    let third = addressed(&app, &shop, "anna", "5.00").await;
    let csrf = v.csrf.clone();
    let forged = v
        .post_raw(
            &format!("/app/requests/{third}/decline"),
            &[("csrf", csrf.as_str())],
            "cross-site",
        )
        .await;
    assert_eq!(forged.status, 403);
    let still: Value = app
        .get(&format!("/v1/money-requests/{third}"), Some(&shop))
        .await
        .ok(200)
        .clone();
    assert_eq!(still["status"], "pending");
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test]
async fn the_app_sends_money_with_the_fee_shown_tops_up_and_downloads_statements() {
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    app.merchant_app("bakery", "corporate").await;
    app.wallet_user("ben").await;
    app.deposit("anna", "50.00").await.ok(201);
    let mut v = Visitor::new(&app);
    v.sign_in("anna").await;

    // The send fee is shown before the PIN: none for a private wallet, the tier's fee for
    // a merchant sending (Corporate to a private wallet: 0.25).
    v.get("/app/send").await;
    let review = v
        .post(
            "/app/send/review",
            &[
                ("to", "@bakery"),
                ("amount", "10,00"),
                ("description", "Bread"),
            ],
        )
        .await;
    assert_eq!(review.status, 200, "{}", review.html);
    assert_secure_page(&review);
    assert!(
        review.html.contains("<dd id=\"fee\"><bdi>€0.00</bdi></dd>"),
        "{}",
        review.html
    );
    assert!(review.html.contains("Send €10.00"));
    app.deposit("bakery", "20.00").await.ok(201);
    let mut shopkeeper = Visitor::new(&app);
    shopkeeper.sign_in("bakery").await;
    shopkeeper.get("/app/send").await;
    let charged = shopkeeper
        .post("/app/send/review", &[("to", "ben"), ("amount", "10.00")])
        .await;
    assert!(
        charged
            .html
            .contains("<dd id=\"fee\"><bdi>€0.25</bdi></dd>"),
        "{}",
        charged.html
    );
    assert!(charged.html.contains("<strong><bdi>€10.25</bdi></strong>"));
    let paid = shopkeeper
        .post(
            "/app/send/confirm",
            &[("to", "ben"), ("amount", "10.00"), ("pin", PIN)],
        )
        .await;
    assert_eq!(paid.status, 303, "{}", paid.html);
    let bakery = app.access_token("bakery").await;
    assert_eq!(app.balance(&bakery).await, "9.75");
    let unknown = v
        .post(
            "/app/send/review",
            &[("to", "nobody-here"), ("amount", "1.00")],
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.html.contains("No PinPay wallet has this username."));

    v.get("/app/send").await;
    v.post("/app/send/review", &[("to", "ben"), ("amount", "10.00")])
        .await;
    let sent = v
        .post(
            "/app/send/confirm",
            &[
                ("to", "ben"),
                ("amount", "10.00"),
                ("description", ""),
                ("pin", PIN),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.html);
    assert_eq!(sent.location.as_deref(), Some("/app/money?sent=1"));
    assert_eq!(app.balance(&anna).await, "40.00");
    let money = v.get("/app/money?sent=1").await;
    assert_secure_page(&money);
    assert!(money.html.contains("Sent."));
    assert!(
        money.html.contains("€40.00"),
        "the running balance after the transfer"
    );
    let only_deposits = v.get("/app/money?kind=deposit").await;
    assert!(only_deposits.html.contains("€50.00"));
    assert!(
        !only_deposits.html.contains("<bdi>@ben</bdi>"),
        "filtered out"
    );

    // Top up through the sandbox provider: the balance moves when it confirms.
    v.get("/app/money/top-up").await;
    let topped = v
        .post(
            "/app/money/top-up",
            &[("amount", "25.00"), ("provider", "sandbox")],
        )
        .await;
    assert_eq!(topped.status, 303, "{}", topped.html);
    let mut balance = String::new();
    for _ in 0..100 {
        balance = app.balance(&anna).await;
        if balance == "65.00" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(balance, "65.00");
    let bad = v.post("/app/money/top-up", &[("amount", "-3")]).await;
    assert_eq!(bad.status, 422, "{}", bad.html);

    let month = app.clock.now().format("%Y-%m").to_string();
    for (ext, kind, magic) in [
        ("pdf", "application/pdf", &b"%PDF"[..]),
        ("csv", "text/csv", &b"booked_at"[..]),
        ("xlsx", "application/vnd.openxmlformats", &b"PK"[..]),
    ] {
        let res = app
            .client
            .get(format!(
                "{}/app/money/statements/{month}.{ext}",
                app.address
            ))
            .header("cookie", format!("pinpay_app={}", v.cookies["pinpay_app"]))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{ext}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(
            res.headers()["content-security-policy"],
            "default-src 'none'; sandbox"
        );
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
        let body = res.bytes().await.unwrap();
        assert!(body.starts_with(magic), "{ext}");
    }
    let anon = app
        .client
        .get(format!("{}/app/money/statements/{month}.pdf", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 303, "no statement without a session");
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test]
async fn sessions_end_on_sign_out_when_idle_and_everywhere() {
    let app = TestApp::spawn().await;
    app.wallet_user("anna").await;
    let refresh = app.login("anna").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut phone, mut laptop) = (Visitor::new(&app), Visitor::new(&app));
    phone.sign_in("anna").await;
    laptop.sign_in("anna").await;

    // Idle for 14 minutes: still signed in (and the idle clock restarts).
    app.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(phone.get("/app").await.status, 200);
    app.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(phone.get("/app").await.status, 200);
    // The laptop was idle for 28 minutes: signed out.
    assert_eq!(laptop.get("/app").await.status, 303);

    laptop.sign_in("anna").await;
    phone.get("/app/settings").await;
    let everywhere = phone.post("/app/sign-out-everywhere", &[]).await;
    assert_eq!(everywhere.status, 303);
    assert_eq!(everywhere.location.as_deref(), Some("/app/sign-in?ended=1"));
    assert!(
        !phone.cookies.contains_key("pinpay_app"),
        "the cookie is cleared"
    );
    assert_eq!(
        laptop.get("/app").await.status,
        303,
        "the other browser too"
    );
    let refused = app
        .post(
            "/v1/sessions/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(
        refused.problem(401, "unauthenticated")["reason"],
        "invalid_refresh_token"
    );

    // Sign out ends that session on the server: a kept copy of the cookie is refused.
    let mut tablet = Visitor::new(&app);
    tablet.sign_in("anna").await;
    let copy = tablet.cookies["pinpay_app"].clone();
    tablet.get("/app/settings").await;
    assert_eq!(tablet.post("/app/sign-out", &[]).await.status, 303);
    tablet.cookies.insert("pinpay_app".into(), copy);
    assert_eq!(tablet.get("/app").await.status, 303);
}

#[tokio::test]
async fn registration_from_the_app_opens_a_wallet_and_asks_for_a_pin() {
    let app = TestApp::spawn().await;
    app.wallet_user("taken").await;
    let mut v = Visitor::new(&app);
    let form = v.get("/app/register").await;
    assert_secure_page(&form);
    let fields = |user: &'static str, again: &'static str| {
        vec![
            ("username", user),
            ("email", "new@example.test"),
            ("password", PASSWORD),
            ("password2", again),
        ]
    };
    let differ = v
        .post("/app/register", &fields("newbie", "something else"))
        .await;
    assert_eq!(differ.status, 422);
    assert!(differ.html.contains("The two passwords differ."));
    let taken = v.post("/app/register", &fields("taken", PASSWORD)).await;
    assert_eq!(taken.status, 409);
    assert!(taken.html.contains("This username is taken."));
    let made = v.post("/app/register", &fields("newbie", PASSWORD)).await;
    assert_eq!(made.status, 303, "{}", made.html);
    let settings = v.get("/app/settings?welcome=1").await;
    assert!(settings.html.contains("Welcome to PinPay!"));
    assert!(settings.html.contains("Set your PIN"));
    let set = v
        .post(
            "/app/settings/pin",
            &[
                ("password", PASSWORD),
                ("pin", "246810"),
                ("pin2", "246810"),
            ],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.html);
    let token = app.access_token("newbie").await;
    let me = app.get("/v1/me", Some(&token)).await;
    assert_eq!(me.ok(200)["kind"], "private");
    let changed = v.get("/app/settings").await;
    assert!(changed.html.contains("Change your PIN"));

    // The low-balance alert: on with a threshold, then off again without retyping it.
    let on = v
        .post(
            "/app/settings/alert",
            &[
                ("enabled", "1"),
                ("threshold", "5,00"),
                ("recipients", "new@example.test"),
            ],
        )
        .await;
    assert_eq!(on.status, 303, "{}", on.html);
    let alert = app.get("/v1/me/balance-alert", Some(&token)).await;
    assert_eq!(alert.ok(200)["enabled"], true);
    v.get("/app/settings").await;
    let off = v
        .post(
            "/app/settings/alert",
            &[("threshold", ""), ("recipients", "")],
        )
        .await;
    assert_eq!(off.status, 303, "{}", off.html);
    let alert = app.get("/v1/me/balance-alert", Some(&token)).await;
    let alert = alert.ok(200);
    assert_eq!(alert["enabled"], false);
    assert_eq!(alert["threshold"], "5.00", "kept");
}

#[tokio::test]
async fn a_payer_adds_a_bank_account_and_withdraws_with_the_fee_shown() {
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "80.00").await.ok(201);
    let mut v = Visitor::new(&app);
    v.sign_in("anna").await;

    let first = v.get("/app/money/withdraw").await;
    assert_secure_page(&first);
    assert!(first.html.contains("Add your bank account"));
    let none = v
        .post("/app/money/withdraw/review", &[("amount", "10.00")])
        .await;
    assert_eq!(none.status, 409, "{}", none.html);
    v.get("/app/money/withdraw").await;
    let wrong = v
        .post(
            "/app/money/withdraw/bank-account",
            &[
                ("iban", "DE89370400440532013000"),
                ("bic", "COBADEFFXXX"),
                ("password", "not it"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    let added = v
        .post(
            "/app/money/withdraw/bank-account",
            &[
                ("iban", "DE89 3704 0044 0532 0130 00"),
                ("bic", "COBADEFFXXX"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.html);
    let page = v.get("/app/money/withdraw").await;
    assert!(page.html.contains("DE89 … 3000"), "the IBAN, masked");

    let review = v
        .post("/app/money/withdraw/review", &[("amount", "10,00")])
        .await;
    assert_eq!(review.status, 200, "{}", review.html);
    let fee = review.html.split("<dd id=\"fee\"><bdi>").nth(1).unwrap();
    let fee = fee
        .split('<')
        .next()
        .unwrap()
        .trim_start_matches('€')
        .to_string();
    let paid = v
        .post(
            "/app/money/withdraw/confirm",
            &[("amount", "10.00"), ("pin", "000000")],
        )
        .await;
    assert_eq!(paid.status, 403, "a wrong PIN");
    assert!(paid.html.contains("Attempts left: 4"));
    assert_eq!(app.balance(&anna).await, "80.00", "nothing moved");
    let paid = v
        .post(
            "/app/money/withdraw/confirm",
            &[("amount", "10.00"), ("pin", PIN)],
        )
        .await;
    assert_eq!(paid.status, 303, "{}", paid.html);
    assert_eq!(paid.location.as_deref(), Some("/app/money?withdrawn=1"));
    let fee: rust_decimal::Decimal = fee.parse().unwrap();
    let left = rust_decimal::Decimal::new(7000, 2) - fee;
    assert_eq!(app.balance(&anna).await, format!("{left:.2}"));
    assert_eq!(app.ledger_report().await["ok"], true);
}
