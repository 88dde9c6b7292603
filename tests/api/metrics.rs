//! `GET /metrics`: Prometheus text that a Prometheus parser reads, counters that move with
//! a flow, gauges read at scrape time, and only for the operator.

use crate::helpers::{TestApp, ADMIN_TOKEN, PIN};
use crate::receiver::Receiver;
use serde_json::json;

/// Samples of one scrape, parsed by `prometheus-parse`.
struct Scrape(prometheus_parse::Scrape);

impl Scrape {
    async fn take(app: &TestApp) -> Self {
        let res = app
            .client
            .get(format!("{}/metrics", app.address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let kind = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
        let text = res.text().await.unwrap();
        let lines = text.lines().map(|l| Ok(l.to_string()));
        Self(prometheus_parse::Scrape::parse(lines).expect("Prometheus text format"))
    }

    /// The value of `name` whose labels include `labels` (0 if absent).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(buckets) => {
                    buckets.last().map_or(0.0, |b| b.count)
                }
                _ => 0.0,
            })
            .sum()
    }
}

#[tokio::test]
async fn metrics_parse_and_move_with_a_flow() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
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
    let before = Scrape::take(&app).await;
    assert_eq!(before.value("pinpay_db_pool_max_connections", &[]), 8.0);
    assert_eq!(before.value("pinpay_approvals_total", &[]), 0.0);

    let mut ids = Vec::new();
    for _ in 0..3 {
        let mr = app
            .create_request(&shop, json!({"amount": "10.00", "payer": "anna"}))
            .await;
        ids.push(mr.ok(201)["id"].as_str().unwrap().to_string());
    }
    app.approve(&anna, &ids[0], PIN).await.ok(200);
    app.post(
        &format!("/v1/wallet/money-requests/{}/decline", ids[1]),
        Some(&anna),
        json!({}),
    )
    .await
    .ok(200);
    for _ in 0..5 {
        app.approve(&anna, &ids[2], "000000").await;
    }
    receiver.wait_for(2).await;
    // The worker counts an attempt just after the receiver answered it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let after = loop {
        let s = Scrape::take(&app).await;
        let delivered = s.value(
            "pinpay_callback_deliveries_total",
            &[("outcome", "delivered")],
        );
        if delivered >= 2.0 || std::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };

    let moved = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(
        moved("pinpay_money_requests_total", &[("outcome", "created")]),
        3.0
    );
    assert_eq!(
        moved("pinpay_money_requests_total", &[("outcome", "approved")]),
        1.0
    );
    assert_eq!(
        moved("pinpay_money_requests_total", &[("outcome", "declined")]),
        1.0
    );
    assert_eq!(moved("pinpay_approvals_total", &[]), 1.0);
    assert_eq!(moved("pinpay_pin_lockouts_total", &[]), 1.0);
    assert_eq!(
        moved(
            "pinpay_callback_deliveries_total",
            &[("outcome", "delivered")]
        ),
        2.0
    );
    assert_eq!(
        moved(
            "pinpay_callback_delivery_duration_seconds_count",
            &[("outcome", "delivered")]
        ),
        2.0
    );
    let created = [
        ("route", "/v1/money-requests"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert_eq!(moved("pinpay_http_requests_total", &created), 3.0);
    let wrong_pin = [
        ("route", "/v1/wallet/money-requests/:id/approve"),
        ("status", "403"),
    ];
    assert_eq!(moved("pinpay_http_requests_total", &wrong_pin), 5.0);
    assert!(
        after.value(
            "pinpay_http_request_duration_seconds_count",
            &[("route", "/v1/money-requests"), ("method", "POST")]
        ) >= 3.0
    );
    assert!(after.value("pinpay_db_pool_connections", &[]) >= 1.0);
    assert_eq!(after.value("pinpay_callback_queue_due", &[]), 0.0);

    // Only the operator reads them.
    let anonymous = app.get("/metrics", None).await;
    anonymous.problem(401, "unauthenticated");
    let merchant = app.get("/metrics", Some(&shop)).await;
    assert!(merchant.status == 401 || merchant.status == 403);
}
