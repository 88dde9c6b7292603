//! Web Push end to end, offline: npm's `web-push-testing` stands in for a browser's push
//! service (it checks the VAPID JWT against the subscription's key and decrypts the
//! aes128gcm message); a loopback receiver shows the headers a push service sees. Two
//! instances on one database push each message once; a gone subscription is removed.

use crate::helpers::TestApp;
use crate::receiver::Receiver;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The push service stand-in, stopped on drop.
struct PushService {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl PushService {
    async fn start() -> Self {
        let script = std::env::var("WEB_PUSH_TESTING_SERVER").unwrap_or_else(|_| {
            format!(
                "{}/target/npm/node_modules/web-push-testing/src/bin/server.js",
                env!("CARGO_MANIFEST_DIR")
            )
        });
        assert!(
            std::path::Path::new(&script).exists(),
            "{script} is missing: the push tests need `npm install --prefix target/npm web-push-testing@1.2.2` (README: Prerequisites)"
        );
        let port = Receiver::free_port();
        let child = Command::new("node")
            .arg(&script)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs web-push-testing");
        let base = format!("http://localhost:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.post(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "web-push-testing did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, base, http }
    }

    /// A browser's subscription for `key`: `(subscription JSON, client hash)`.
    async fn subscribe(&self, key: &str) -> (Value, String) {
        let res: Value = self
            .http
            .post(format!("{}/subscribe", self.base))
            .json(&json!({"applicationServerKey": key, "userVisibleOnly": "true"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = res["data"].clone();
        let hash = data["clientHash"]
            .as_str()
            .expect("a client hash")
            .to_string();
        let sub = json!({"endpoint": data["endpoint"], "keys": data["keys"]});
        (sub, hash)
    }

    /// The decrypted messages the subscription received, once there are `n`.
    async fn messages(&self, hash: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let res: Value = self
                .http
                .post(format!("{}/get-notifications", self.base))
                .json(&json!({"clientHash": hash}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let got: Vec<Value> = res["data"]["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|m| serde_json::from_str(m.as_str().unwrap()).unwrap())
                .collect();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn expire(&self, hash: &str) {
        // The stand-in answers nothing on success: do not wait for a reply.
        let _ = self
            .http
            .post(format!("{}/expire-subscription/{hash}", self.base))
            .timeout(Duration::from_millis(500))
            .send()
            .await;
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The claims of a JWT (no verification: the push service stand-in verifies signatures).
fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn requests_transfers_and_final_statuses_are_pushed_once_to_the_wallets_devices() {
    let service = PushService::start().await;
    let app = TestApp::spawn().await;
    // A second instance on the same database: both run the push worker.
    let (_second, second_handle) = app.second_instance().await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    let ben = app.wallet_user("ben").await;
    app.deposit("ben", "20.00").await.ok(201);
    app.deposit("anna", "50.00").await.ok(201);
    let key = app.get("/v1/push/key", None).await.ok(200)["public_key"]
        .as_str()
        .unwrap()
        .to_string();

    let (mut sub, hash) = service.subscribe(&key).await;
    sub["language"] = json!("de");
    let made = app
        .post("/v1/me/push-subscriptions", Some(&anna), sub.clone())
        .await;
    assert_eq!(made.ok(201)["object"], "push_subscription");
    // A second device of anna's: a loopback receiver shows what a push service gets.
    let receiver = Receiver::start().await;
    let (mut other, _) = service.subscribe(&key).await;
    other["endpoint"] = json!(format!("http://127.0.0.1:{}/push/device-2", receiver.port));
    app.post("/v1/me/push-subscriptions", Some(&anna), other)
        .await
        .ok(201);
    // Bad subscriptions change nothing.
    let mut bad = sub.clone();
    bad["keys"]["p256dh"] = json!("not-a-key");
    app.post("/v1/me/push-subscriptions", Some(&anna), bad)
        .await
        .problem(422, "validation_failed");
    let mut ftp = sub.clone();
    ftp["endpoint"] = json!("ftp://push.example/x");
    app.post("/v1/me/push-subscriptions", Some(&anna), ftp)
        .await
        .problem(422, "validation_failed");

    let mr = app
        .create_request(
            &shop,
            json!({"payer": "anna", "amount": "12.50", "description": "Kaffeebohnen"}),
        )
        .await;
    let id = mr.ok(201)["id"].as_str().unwrap().to_string();
    app.transfer(&ben, "anna", "5.00").await.ok(201);

    let got = service.messages(&hash, 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let new = got
        .iter()
        .find(|m| m["tag"] == json!(id))
        .expect("the new request");
    assert_eq!(new["title"], "Shop GmbH bittet um 12,50\u{a0}€");
    assert_eq!(new["body"], "Kaffeebohnen");
    assert_eq!(new["url"], format!("/app/requests/{id}"));
    let money = got
        .iter()
        .find(|m| m["url"] == "/app/money")
        .expect("the transfer");
    assert_eq!(money["title"], "Sie haben 5,00\u{a0}€ erhalten");
    assert_eq!(money["body"], "Von @ben");

    // What the push service saw: the VAPID token for its origin, the encrypted body.
    let hits = receiver.wait_for(2).await;
    let auth = &hits[0].authorization;
    let token = auth
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split(',').next())
        .expect("a VAPID authorization");
    let c = claims(token);
    assert_eq!(
        c["aud"],
        format!("http://127.0.0.1:{}", receiver.port),
        "the origin, port included"
    );
    assert!(c["sub"].as_str().unwrap().starts_with("mailto:"), "{c}");
    assert!(auth.ends_with(&format!("k={key}")), "{auth}");
    assert_eq!(hits[0].path, "/push/device-2");
    assert!(
        !hits[0].body.windows(5).any(|w| w == b"Kaffe"),
        "the body is encrypted"
    );

    // The browser unsubscribed (the push service answers 410): the next push removes it.
    service.expire(&hash).await;
    app.approve(&anna, &id, crate::helpers::PIN).await.ok(200);
    let endpoint = sub["endpoint"].clone();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let listed = app.get("/v1/me/push-subscriptions", Some(&anna)).await;
        let endpoints: Vec<Value> = listed.ok(200)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["endpoint"].clone())
            .collect();
        if !endpoints.contains(&endpoint) {
            assert_eq!(endpoints.len(), 1, "the other device stays");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gone subscription was not removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.request(
        "DELETE",
        "/v1/me/push-subscriptions",
        Some(&anna),
        Some(crate::helpers::RawBody::Json(
            json!({ "endpoint": endpoint }),
        )),
    )
    .await
    .problem(404, "not_found");
    // The other device got the final status, and every message went out exactly once.
    let hits = receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.hits().len(),
        3,
        "each push once across two instances"
    );
    assert_eq!(hits.len(), 3);
    assert_eq!(service.messages(&hash, 2).await.len(), 2);
    second_handle.stop(true).await;
}
