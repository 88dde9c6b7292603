//! The real `pinpay` binary as a child process on a fixed port (a restart keeps the
//! address), for the tests that kill or signal it.

use crate::helpers::{ADMIN_TOKEN, JWT_SECRET};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server as a child process on a fixed port, so a restart keeps its address.
pub struct ServerProcess {
    extra: Vec<(String, String)>,
    /// A soft limit on open files for the child (the hard limit stays this process's).
    open_files: Option<u64>,
    child: Option<Child>,
    port: u16,
    url: String,
    log: std::path::PathBuf,
}

impl ServerProcess {
    /// Starts the binary on `db_url` with the test settings plus `extra` variables.
    pub fn start(db_url: &str, extra: &[(&str, &str)]) -> Self {
        Self::start_with_open_files(db_url, extra, None)
    }

    /// The same, started with `open_files` as its soft limit on open files.
    pub fn start_with_open_files(
        db_url: &str,
        extra: &[(&str, &str)],
        open_files: Option<u64>,
    ) -> Self {
        let port = free_fixed_port();
        let log = std::env::temp_dir().join(format!("pinpay-crash-{port}.log"));
        let mut s = Self {
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            open_files,
            child: None,
            port,
            url: db_url.to_string(),
            log,
        };
        s.spawn();
        s
    }

    /// Starts it (again) on the same port and database.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_pinpay"));
        if let Some(soft) = self.open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: only getrlimit and setrlimit run in the child before exec.
            unsafe {
                command.pre_exec(move || {
                    pinpay::startup::set_open_files_limit(|_, _| soft).map(|_| ())
                });
            }
        }
        let child = command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.url)
            .env("PINPAY_BIND", format!("127.0.0.1:{}", self.port))
            .env("PINPAY_JWT_SECRET", JWT_SECRET)
            .env("PINPAY_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("PINPAY_CALLBACK_ALLOW_PRIVATE", "true")
            .env("PINPAY_WORKERS", "2")
            .envs(self.mail_settings())
            .envs(self.pin_keys())
            .envs(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the pinpay binary");
        self.child = Some(child);
    }

    /// A fixed PIN key, unless the test names its own (without one, a development server
    /// would write a new key into `.env` in the working directory).
    fn pin_keys(&self) -> Vec<(&'static str, String)> {
        if self.extra.iter().any(|(k, _)| k == "PINPAY_PIN_KEYS") {
            return Vec::new();
        }
        vec![("PINPAY_PIN_KEYS", crate::helpers::PIN_KEYS.to_string())]
    }

    /// The shared test SMTP listener, unless the test names its own.
    fn mail_settings(&self) -> Vec<(&'static str, String)> {
        if self.extra.iter().any(|(k, _)| k == "PINPAY_SMTP_HOST") {
            return Vec::new();
        }
        vec![
            ("PINPAY_SMTP_HOST", "127.0.0.1".into()),
            ("PINPAY_SMTP_PORT", crate::smtp::shared().0.to_string()),
            ("PINPAY_SMTP_TLS", "none".into()),
            ("PINPAY_SMTP_FROM", "PinPay <noreply@pinpay.test>".into()),
        ]
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().unwrap();
        }
    }

    /// What the server wrote to stderr so far (its log).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The running child's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl ServerProcess {
    /// SIGTERM, then waits (at most `limit`) for the process to exit; returns how long it
    /// took, or `None` if it was still running.
    pub fn terminate(&mut self, limit: Duration) -> Option<Duration> {
        let child = self.child.as_mut()?;
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        while started.elapsed() < limit {
            if child.try_wait().unwrap().is_some() {
                self.child = None;
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A free port below the kernel's ephemeral range (32768 and up on Linux): a port picked
/// there could be handed to another test's listener or outgoing connection while this
/// server is down for a restart, and the restarted server would fail to bind (or the test
/// would reach the other test's server).
fn free_fixed_port() -> u16 {
    for _ in 0..200 {
        let port = 20_000 + rand::random::<u16>() % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000");
}

/// Polls `/health` until the server answers (60 s at most).
pub async fn wait_healthy(client: &reqwest::Client, address: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(res) = client.get(format!("{address}/health")).send().await {
            if res.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come back");
}

/// HTTP against a server process, as its users call it; every call must succeed.
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    /// Where the server's e-mail arrives (the shared listener unless the test set its own).
    pub mailbox: crate::smtp::Mailbox,
}

impl Api {
    pub fn new(base: String) -> Self {
        Self {
            client: reqwest::Client::new(),
            base,
            mailbox: crate::smtp::shared().1,
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> serde_json::Value {
        self.call(reqwest::Method::POST, path, token, body).await
    }

    pub async fn put(&self, path: &str, token: &str, body: serde_json::Value) {
        self.call(reqwest::Method::PUT, path, Some(token), body)
            .await;
    }

    pub async fn get(&self, path: &str, token: &str) -> serde_json::Value {
        self.call(
            reqwest::Method::GET,
            path,
            Some(token),
            serde_json::Value::Null,
        )
        .await
    }

    /// Onboarding through the HTTP API (see `TestApp::onboard`).
    pub async fn onboard(&self, name: &str) {
        use crate::helpers::{document_form, RawBody, PASSWORD, PDF};
        use serde_json::json;
        let session = self
            .post(
                "/v1/sessions",
                None,
                json!({"username": name, "password": PASSWORD}),
            )
            .await;
        let token = session["access_token"].as_str().unwrap().to_string();
        let sent = self
            .post("/v1/me/email/confirmation", Some(&token), json!({}))
            .await;
        let to = sent["email"].as_str().unwrap().to_string();
        let code = crate::smtp::confirmation_code(&self.mailbox, &to).await;
        self.post("/v1/me/email/confirm", Some(&token), json!({"code": code}))
            .await;
        self.post("/v1/me/bank-account/verification", Some(&token), json!({}))
            .await;
        let payouts = self
            .get("/v1/admin/payouts?status=pending&limit=100", ADMIN_TOKEN)
            .await;
        let subject = payouts["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["account"] == name && p["purpose"] == "verification")
            .unwrap()["subject"]
            .as_str()
            .unwrap()
            .to_string();
        let code = subject.rsplit(' ').next().unwrap();
        self.post(
            "/v1/me/bank-account/verify",
            Some(&token),
            json!({"code": code}),
        )
        .await;
        let app = self.post("/v1/me/upgrade", Some(&token), json!({})).await;
        let RawBody::Bytes(content_type, body) =
            document_form("commercial_register", "register.pdf", PDF)
        else {
            unreachable!()
        };
        let res = self
            .client
            .post(format!("{}/v1/me/upgrade/documents", self.base))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
        self.post("/v1/me/upgrade/submit", Some(&token), json!({}))
            .await;
        self.post(
            &format!(
                "/v1/admin/applications/{}/accept",
                app["id"].as_str().unwrap()
            ),
            Some(ADMIN_TOKEN),
            json!({}),
        )
        .await;
    }

    /// A Corporate+ merchant; returns its API token.
    pub async fn corporate_plus(&self, name: &str) -> String {
        use crate::helpers::{IBAN, PASSWORD};
        self.post("/v1/accounts", None, serde_json::json!({"kind": "corporate", "username": name,
            "password": PASSWORD, "email": format!("{name}@p{}.shop.example", self.base.rsplit(':').next().unwrap()), "company_name": "Shop GmbH",
            "iban": IBAN, "bic": "DEUTDEFF"}))
            .await;
        self.onboard(name).await;
        let token = self
            .post(
                "/v1/auth/tokens",
                None,
                serde_json::json!({"username": name, "password": PASSWORD}),
            )
            .await;
        token["token"].as_str().unwrap().to_string()
    }

    /// A wallet user with PIN `PIN` and `funds` booked in; returns its app token.
    pub async fn wallet(&self, name: &str, funds: &str) -> String {
        use crate::helpers::{PASSWORD, PIN};
        self.post(
            "/v1/accounts",
            None,
            serde_json::json!({"kind": "private", "username": name,
            "password": PASSWORD, "email": format!("{name}@example.com")}),
        )
        .await;
        let session = self
            .post(
                "/v1/sessions",
                None,
                serde_json::json!({"username": name, "password": PASSWORD}),
            )
            .await;
        let token = session["access_token"].as_str().unwrap().to_string();
        self.put(
            "/v1/me/pin",
            &token,
            serde_json::json!({"pin": PIN, "password": PASSWORD}),
        )
        .await;
        self.post(
            "/v1/admin/deposits",
            Some(ADMIN_TOKEN),
            serde_json::json!({"username": name,
            "amount": funds, "bank_reference": format!("seed-{name}")}),
        )
        .await;
        token
    }
}
