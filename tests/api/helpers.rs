//! The test harness: a real PinPay server on port 0 with its own fresh database
//! (SQLite file by default, a new PostgreSQL database when `PINPAY_TEST_DATABASE_URL`
//! names a server), a clock the test can move, and HTTP helpers that read like the API.

use diesel::{Connection, PgConnection, RunQueryDsl};
use pinpay::clock::Clock;
use pinpay::config::{Config, Secret};
use pinpay::startup::Application;
use rand::Rng;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The PIN key of the test servers run as processes (32 bytes, base64).
pub const PIN_KEYS: &str = "1:cGlucGF5LXRlc3QtcGluLWtleS0wMTIzNDU2Nzg5YWI=";
pub const ADMIN_TOKEN: &str = "test-operator-token-0123456789abcdef";
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef0123456789";
pub const PASSWORD: &str = "correct horse battery";
pub const PIN: &str = "482915";
pub const IBAN: &str = "DE89370400440532013000";

/// One database for one test, removed when the test ends.
pub enum TestDb {
    Sqlite { dir: PathBuf },
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub fn create() -> Self {
        let suffix: u64 = rand::thread_rng().gen();
        match std::env::var("PINPAY_TEST_DATABASE_URL")
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(admin_url) => {
                let name = format!("pinpay_test_{suffix:016x}");
                let mut c = PgConnection::establish(&admin_url)
                    .expect("connect to PINPAY_TEST_DATABASE_URL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .expect("create test database");
                Self::Postgres { admin_url, name }
            }
            None => {
                let dir = std::env::temp_dir().join(format!("pinpay-test-{suffix:016x}"));
                std::fs::create_dir_all(&dir).expect("create temp dir");
                Self::Sqlite { dir }
            }
        }
    }

    pub fn url(&self) -> String {
        match self {
            Self::Sqlite { dir } => format!("sqlite://{}", dir.join("pinpay.db").display()),
            Self::Postgres { admin_url, name } => {
                let base = admin_url.split('?').next().unwrap_or(admin_url);
                let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
                // No TLS for these loopback test connections: a test process ends with the
                // server's worker threads still holding pooled connections, and libpq's
                // OpenSSL state torn down at exit under them crashed the process (SIGSEGV
                // after the test had passed).
                format!("{base}/{name}?sslmode=disable")
            }
        }
    }
}

impl TestDb {
    /// The ledger invariants, checked on the database itself after every test.
    fn ledger_report(&self) -> pinpay::ledger::verify::Report {
        let db = pinpay::db::Db::connect(&self.url(), 1).expect("open test database");
        let mut conn = db.get().expect("connection");
        pinpay::ledger::verify::verify(&mut conn).expect("ledger readable")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let report = (!std::thread::panicking()).then(|| self.ledger_report());
        match self {
            Self::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Self::Postgres { admin_url, name } => {
                if let Ok(mut c) = PgConnection::establish(admin_url) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut c);
                }
            }
        }
        if let Some(report) = report {
            assert!(
                report.ok,
                "ledger invariants violated after the test: {:?}",
                report.violations
            );
        }
    }
}

/// A response as a test sees it.
#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

impl Res {
    /// Asserts an RFC 9457 problem with this status and code; returns the body.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status, body: {}",
            self.body
        );
        assert_eq!(
            self.content_type, "application/problem+json",
            "body: {}",
            self.body
        );
        assert_eq!(
            self.body["status"], status,
            "problem status must equal the HTTP status"
        );
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        for member in ["type", "title", "detail"] {
            assert!(
                self.body[member].is_string(),
                "problem lacks {member}: {}",
                self.body
            );
        }
        &self.body
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status, body: {}",
            self.body
        );
        &self.body
    }
}

pub struct TestApp {
    pub address: String,
    pub clock: Clock,
    pub client: reqwest::Client,
    /// Where the server's e-mail arrives (the shared listener unless the test set its own).
    pub mailbox: crate::smtp::Mailbox,
    config: Config,
    handle: actix_web::dev::ServerHandle,
    // Declared last: the server stops before the database is dropped.
    _db: TestDb,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like `spawn`, with the test's changes to the configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::create();
        let mut config = Config::development();
        config.database_url = db.url();
        config.bind = "127.0.0.1:0".into();
        config.workers = 2;
        config.db_pool_size = 8;
        config.jwt_secret = Secret::new(JWT_SECRET);
        config.admin_token = Some(Secret::new(ADMIN_TOKEN));
        config.callback_allow_private = true;
        config.sweep_interval_ms = 100;
        config.delivery_interval_ms = 50;
        config.callback_timeout_ms = 700;
        let (smtp_port, _) = crate::smtp::shared();
        config.smtp = Some(pinpay::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port: smtp_port,
            tls: pinpay::config::SmtpTls::None,
            username: None,
            password: None,
            from: "PinPay <noreply@pinpay.test>".into(),
        });
        adjust(&mut config);
        Self::start(config, Clock::system(), db).await
    }

    /// A second server on the same database and clock (another instance); returns its
    /// address and its stop handle.
    pub async fn second_instance(&self) -> (String, actix_web::dev::ServerHandle) {
        let app = Application::build(self.config.clone(), self.clock.clone())
            .await
            .expect("second instance builds");
        let (address, handle) = (format!("http://127.0.0.1:{}", app.port()), app.handle());
        tokio::spawn(app.run_until_stopped());
        (address, handle)
    }

    async fn start(config: Config, clock: Clock, db: TestDb) -> Self {
        let app = Application::build(config.clone(), clock.clone())
            .await
            .expect("server builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            address,
            clock,
            client,
            mailbox: crate::smtp::shared().1,
            config,
            handle,
            _db: db,
        }
    }

    /// Stops the server (the network is gone for its clients); the database stays.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }

    /// The configuration this server was built with (to build another on its database).
    pub fn config(&self) -> Config {
        self.config.clone()
    }

    /// Stops the server and starts a new one on the same database, secret and clock.
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// Stops the server and starts it again on the same database with `adjust` applied.
    pub async fn restart_with(self, adjust: impl FnOnce(&mut Config)) -> Self {
        self.handle.stop(true).await;
        let Self {
            mut config,
            clock,
            _db: db,
            ..
        } = self;
        adjust(&mut config);
        Self::start(config, clock, db).await
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<RawBody>,
    ) -> Res {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        match body {
            Some(RawBody::Json(v)) => req = req.json(&v),
            Some(RawBody::Text(content_type, text)) => {
                req = req.header("content-type", content_type).body(text);
            }
            Some(RawBody::Bytes(content_type, bytes)) => {
                req = req.header("content-type", content_type).body(bytes);
            }
            None => {}
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = res.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Res {
            status,
            content_type,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Res {
        self.request("GET", path, token, None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.request("POST", path, token, Some(RawBody::Json(body)))
            .await
    }
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Res {
        self.request("PUT", path, token, Some(RawBody::Json(body)))
            .await
    }
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Res {
        self.request("DELETE", path, token, None).await
    }

    // ---- the API as its users call it ----

    pub async fn register_private(&self, username: &str) -> Res {
        self.post(
            "/v1/accounts",
            None,
            json!({"kind": "private", "username": username, "password": PASSWORD, "email": format!("{username}@example.com")}),
        )
        .await
    }

    pub async fn register_merchant(&self, username: &str) -> Res {
        self.post(
            "/v1/accounts",
            None,
            json!({"kind": "corporate", "username": username, "password": PASSWORD,
                   "email": self.merchant_email(username), "company_name": "Shop GmbH",
                   "iban": IBAN, "bic": "DEUTDEFF"}),
        )
        .await
    }

    /// The merchant's address: unique to this server, since the tests share one mailbox.
    pub fn merchant_email(&self, username: &str) -> String {
        let port = self.address.rsplit(':').next().unwrap();
        format!("{username}@p{port}.shop.example")
    }

    /// Confirms the account's e-mail address with the code mailed to it.
    pub async fn confirm_email(&self, token: &str) {
        let sent = self
            .post("/v1/me/email/confirmation", Some(token), json!({}))
            .await;
        let to = sent.ok(202)["email"].as_str().unwrap().to_string();
        let code = crate::smtp::confirmation_code(&self.mailbox, &to).await;
        self.post("/v1/me/email/confirm", Some(token), json!({"code": code}))
            .await
            .ok(200);
    }

    /// Logs in; returns the session (access and refresh token).
    pub async fn login(&self, username: &str) -> Value {
        self.post(
            "/v1/sessions",
            None,
            json!({"username": username, "password": PASSWORD}),
        )
        .await
        .ok(201)
        .clone()
    }

    pub async fn access_token(&self, username: &str) -> String {
        self.login(username).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The code of the merchant's pending verification payout, as the bank integration
    /// reads it from the operator's payout list (the transfer's subject).
    pub async fn verification_code(&self, username: &str) -> String {
        let list = self
            .get(
                "/v1/admin/payouts?status=pending&limit=100",
                Some(ADMIN_TOKEN),
            )
            .await;
        let payout = list.ok(200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["account"] == username && p["purpose"] == "verification")
            .expect("a pending verification payout")
            .clone();
        let subject = payout["subject"].as_str().unwrap();
        subject.rsplit(' ').next().unwrap().to_string()
    }

    /// Confirms the merchant's e-mail address, then verifies its bank account with the
    /// payout's code; returns its app token.
    pub async fn verify_bank_account(&self, username: &str) -> String {
        let token = self.access_token(username).await;
        self.confirm_email(&token).await;
        self.post("/v1/me/bank-account/verification", Some(&token), json!({}))
            .await
            .ok(201);
        let code = self.verification_code(username).await;
        self.post(
            "/v1/me/bank-account/verify",
            Some(&token),
            json!({"code": code}),
        )
        .await
        .ok(200);
        token
    }

    /// Takes a registered Corporate merchant through onboarding to Corporate+: bank account
    /// verified by the payout's code, an application with one document, submitted and
    /// accepted by the operator.
    pub async fn onboard(&self, username: &str) {
        let token = self.verify_bank_account(username).await;
        let app = self.post("/v1/me/upgrade", Some(&token), json!({})).await;
        let app_id = app.ok(201)["id"].as_str().unwrap().to_string();
        self.request(
            "POST",
            "/v1/me/upgrade/documents",
            Some(&token),
            Some(document_form("commercial_register", "register.pdf", PDF)),
        )
        .await
        .ok(201);
        self.post("/v1/me/upgrade/submit", Some(&token), json!({}))
            .await
            .ok(200);
        self.post(
            &format!("/v1/admin/applications/{app_id}/accept"),
            Some(ADMIN_TOKEN),
            json!({}),
        )
        .await
        .ok(200);
    }

    pub async fn set_tier(&self, username: &str, tier: &str) -> Res {
        self.put(
            &format!("/v1/admin/accounts/{username}/tier"),
            Some(ADMIN_TOKEN),
            json!({"tier": tier}),
        )
        .await
    }

    pub async fn create_api_token(&self, username: &str) -> Res {
        self.post(
            "/v1/auth/tokens",
            None,
            json!({"username": username, "password": PASSWORD}),
        )
        .await
    }

    /// A Corporate+ merchant with a current API token.
    pub async fn corporate_plus(&self, username: &str) -> String {
        self.corporate_plus_with_secret(username).await.0
    }

    /// A Corporate+ merchant: its API token and callback signing secret (shown once).
    pub async fn corporate_plus_with_secret(&self, username: &str) -> (String, String) {
        self.register_merchant(username).await.ok(201);
        self.onboard(username).await;
        let res = self.create_api_token(username).await;
        let body = res.ok(201);
        (
            body["token"].as_str().unwrap().to_string(),
            body["webhook_secret"].as_str().unwrap().to_string(),
        )
    }

    /// Sets the merchant's default callback URL.
    pub async fn set_callback_url(&self, token: &str, url: &str) {
        self.put("/v1/callback-url", Some(token), json!({ "url": url }))
            .await
            .ok(200);
    }

    /// `n` cancelled payment links of `shop`: their ids in the order their events were
    /// written.
    pub async fn cancelled_links(&self, shop: &str, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..n {
            let id = self
                .create_request(shop, json!({"amount": "1.00"}))
                .await
                .ok(201)["id"]
                .as_str()
                .unwrap()
                .to_string();
            self.post(
                &format!("/v1/money-requests/{id}/cancel"),
                Some(shop),
                json!({}),
            )
            .await
            .ok(200);
            ids.push(id);
        }
        ids
    }

    /// A private wallet user with PIN `PIN`; returns its app token.
    pub async fn wallet_user(&self, username: &str) -> String {
        self.register_private(username).await.ok(201);
        let token = self.access_token(username).await;
        self.put(
            "/v1/me/pin",
            Some(&token),
            json!({"pin": PIN, "password": PASSWORD}),
        )
        .await
        .ok(204);
        token
    }

    /// A merchant of `tier` with PIN `PIN`; returns its app token.
    pub async fn merchant_app(&self, username: &str, tier: &str) -> String {
        self.register_merchant(username).await.ok(201);
        if tier == "corporate_plus" {
            self.onboard(username).await;
        }
        let token = self.access_token(username).await;
        self.put(
            "/v1/me/pin",
            Some(&token),
            json!({"pin": PIN, "password": PASSWORD}),
        )
        .await
        .ok(204);
        token
    }

    /// Books a bank transfer in with a fresh bank reference.
    pub async fn deposit(&self, username: &str, amount: &str) -> Res {
        let reference = format!("REF-{:016x}", rand::thread_rng().gen::<u64>());
        self.post(
            "/v1/admin/deposits",
            Some(ADMIN_TOKEN),
            json!({"username": username, "amount": amount, "bank_reference": reference}),
        )
        .await
    }

    pub async fn transfer(&self, token: &str, to: &str, amount: &str) -> Res {
        self.post(
            "/v1/transfers",
            Some(token),
            json!({"to": to, "amount": amount, "pin": PIN}),
        )
        .await
    }

    pub async fn payout(&self, token: &str, amount: &str) -> Res {
        self.post(
            "/v1/payouts",
            Some(token),
            json!({"amount": amount, "pin": PIN}),
        )
        .await
    }

    /// The caller's balance as the API reports it, e.g. `"12.34"`.
    pub async fn balance(&self, token: &str) -> String {
        self.get("/v1/balance", Some(token)).await.ok(200)["balance"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The operator's ledger report.
    pub async fn ledger_report(&self) -> Value {
        self.get("/v1/admin/ledger/verify", Some(ADMIN_TOKEN))
            .await
            .ok(200)
            .clone()
    }

    pub async fn create_request(&self, token: &str, body: Value) -> Res {
        self.post("/v1/money-requests", Some(token), body).await
    }

    pub async fn approve(&self, token: &str, id: &str, pin: &str) -> Res {
        self.post(
            &format!("/v1/wallet/money-requests/{id}/approve"),
            Some(token),
            json!({"pin": pin}),
        )
        .await
    }

    /// A POST with an `Idempotency-Key`; returns the response and whether it was a replay.
    pub async fn post_with_key(
        &self,
        path: &str,
        token: &str,
        key: &str,
        body: Value,
    ) -> (Res, bool) {
        let res = self
            .client
            .post(format!("{}{}", self.address, path))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .expect("request sent");
        let replayed = res.headers().get("idempotent-replayed").is_some();
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = res.json().await.unwrap_or(Value::Null);
        (
            Res {
                status,
                content_type,
                body,
            },
            replayed,
        )
    }

    /// Polls the merchant's status double-check until `status` (bounded: 10 s).
    pub async fn wait_for_status(&self, token: &str, id: &str, status: &str) -> Value {
        for _ in 0..200 {
            let res = self
                .get(&format!("/v1/money-requests/{id}"), Some(token))
                .await;
            if res.body["status"] == status {
                return res.body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("request {id} never reached {status}");
    }

    pub fn database_url(&self) -> String {
        self._db.url()
    }

    /// Registers five PIN checks in flight for `username`, as a process that died mid-check
    /// leaves them: they hold all of the wallet's tries until their 30 s lease ends.
    pub fn hold_pin_tries(&self, username: &str) {
        use diesel::prelude::*;
        use pinpay::db::schema::{accounts, pin_checks};
        let db = pinpay::db::Db::connect(&self.database_url(), 1).unwrap();
        let mut c = db.get().unwrap();
        let id: i64 = accounts::table
            .filter(accounts::username.eq(username))
            .select(accounts::id)
            .first(&mut **c)
            .unwrap();
        for _ in 0..5 {
            diesel::insert_into(pin_checks::table)
                .values((
                    pin_checks::account_id.eq(id),
                    pin_checks::started_at.eq(self.clock.now_naive()),
                ))
                .execute(&mut **c)
                .unwrap();
        }
    }

    pub async fn change_pin(&self, token: &str, old_pin: &str, new_pin: &str) -> Res {
        self.put(
            "/v1/me/pin",
            Some(token),
            json!({"pin": new_pin, "old_pin": old_pin}),
        )
        .await
    }
}

pub enum RawBody {
    Json(Value),
    Text(&'static str, String),
    Bytes(String, Vec<u8>),
}

/// A small but real PDF (what an upload test sends as a document).
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n\
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n\
trailer<</Root 1 0 R>>\n%%EOF\n";

/// A multipart/form-data body with the text field `kind` and the file part `file`:
/// `(content type, body)`.
pub fn document_form(kind: &str, filename: &str, content: &[u8]) -> RawBody {
    let boundary = "pinpay-test-boundary-7d1f";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    RawBody::Bytes(format!("multipart/form-data; boundary={boundary}"), body)
}
