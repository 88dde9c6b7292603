//! What both benchmarks share: a fresh database on the backend the command line names,
//! and the server's settings.

pub mod load;
#[path = "../../tests/api/smtp.rs"]
pub mod smtp;

use pinpay::config::{Config, Secret};

pub const ADMIN: &str = "bench-operator-token-0123456789abcdef";

/// The load generator's HTTP client. Its pooled connections are dropped after 2 s idle,
/// before the server's 5 s keep-alive closes them: a request sent on a connection the
/// server is closing at that moment fails with `IncompleteMessage` (seen once after the
/// open-loop phase, which leaves hundreds of connections idle).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("HTTP client")
}

/// The bench server's settings on `db_url`: a free port, fixed secrets, the operator API.
pub fn config(db_url: &str) -> Config {
    let mut c = Config::development();
    c.database_url = db_url.to_string();
    c.bind = "127.0.0.1:0".into();
    c.jwt_secret = Secret::new("bench-jwt-secret-0123456789abcdef0123456789");
    c.admin_token = Some(Secret::new(ADMIN));
    // The load generator is one address with up to 128 calls on the wire (and more
    // connections while answers stall): the per-address cap is for the internet, not it.
    c.max_connections_per_address = 0;
    // Every instance of one benchmark shares the PIN key, as production's instances share
    // PINPAY_PIN_KEYS (a development config generates its own per process).
    c.pin_keys =
        pinpay::domain::pin_tag::PinKeys::parse("1:YmVuY2gtcGluLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE=")
            .expect("the bench's PIN key");
    c.smtp = Some(pinpay::config::SmtpConfig {
        host: "127.0.0.1".into(),
        port: smtp::shared().0,
        tls: pinpay::config::SmtpTls::None,
        username: None,
        password: None,
        from: "PinPay <noreply@pinpay.bench>".into(),
    });
    c
}

/// A fresh database: a new one on the PostgreSQL server named by a `postgres://…`
/// argument, else a SQLite file in a new temporary directory. Prints the backend and
/// returns the URL and what removes the database again.
pub fn fresh_database(prefix: &str) -> (String, Box<dyn FnOnce()>) {
    let arg = std::env::args().skip(1).find(|a| a.starts_with("postgres"));
    let name = format!("{prefix}_{}", std::process::id());
    let (url, cleanup): (String, Box<dyn FnOnce()>) = match arg {
        Some(admin) => {
            use diesel::{Connection, PgConnection, RunQueryDsl};
            let mut c = PgConnection::establish(&admin).expect("connect to PostgreSQL");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .unwrap();
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(b, _)| b)
                .to_string();
            // No GSSAPI probe: libpq's Kerberos library aborted the process at its exit
            // (a mutex assertion) while pooled connections were still open.
            (
                format!("{base}/{name}?sslmode=disable&gssencmode=disable"),
                Box::new(move || {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut c);
                }),
            )
        }
        None => {
            let dir = std::env::temp_dir().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite://{}", dir.join("bench.db").display());
            (
                url,
                Box::new(move || {
                    let _ = std::fs::remove_dir_all(dir);
                }),
            )
        }
    };
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("backend: {backend}");
    (url, cleanup)
}

/// Takes a registered Corporate merchant to Corporate+ the way a real one goes: the e-mail
/// address confirmed by the mailed code, the bank account verified by the payout's code, one document, the application submitted and
/// accepted by the operator.
pub async fn onboard(client: &reqwest::Client, base: &str, name: &str, password: &str) {
    use serde_json::{json, Value};
    let call = |method: reqwest::Method, path: &str, token: &str, body: Option<Value>| {
        let mut req = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let res = req.send().await.expect("request");
            assert!(res.status().is_success(), "{}", res.status());
            res.json::<Value>().await.unwrap_or(Value::Null)
        }
    };
    let session: Value = client
        .post(format!("{base}/v1/sessions"))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["access_token"].as_str().unwrap().to_string();
    let post = reqwest::Method::POST;
    let sent = call(post.clone(), "/v1/me/email/confirmation", &token, None).await;
    let to = sent["email"].as_str().unwrap();
    let code = smtp::confirmation_code(&smtp::shared().1, to).await;
    let confirm = Some(json!({"code": code}));
    call(post.clone(), "/v1/me/email/confirm", &token, confirm).await;
    call(
        post.clone(),
        "/v1/me/bank-account/verification",
        &token,
        None,
    )
    .await;
    let payouts = call(
        reqwest::Method::GET,
        "/v1/admin/payouts?status=pending&limit=100",
        ADMIN,
        None,
    )
    .await;
    let code = payouts["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["account"] == name)
        .unwrap()["subject"]
        .as_str()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    let verify = Some(json!({"code": code}));
    call(post.clone(), "/v1/me/bank-account/verify", &token, verify).await;
    let app = call(post.clone(), "/v1/me/upgrade", &token, None).await;
    let boundary = "pinpay-bench-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ncommercial_register\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"register.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.4\n%%EOF\n\r\n--{boundary}--\r\n"
    );
    let res = client
        .post(format!("{base}/v1/me/upgrade/documents"))
        .bearer_auth(&token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    call(post.clone(), "/v1/me/upgrade/submit", &token, None).await;
    let accept = format!(
        "/v1/admin/applications/{}/accept",
        app["id"].as_str().unwrap()
    );
    call(post, &accept, ADMIN, None).await;
}
