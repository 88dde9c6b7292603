//! Graceful shutdown of the real binary: after SIGTERM the callback worker starts no new
//! claim; the round it is in finishes, and the process exits.

use crate::helpers::TestDb;
use crate::process::{wait_healthy, Api, ServerProcess};
use crate::receiver::{Mode, Receiver};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_sigterm_the_callback_worker_claims_nothing_new() {
    let receiver = Receiver::start().await;
    receiver.set(Mode::Hang); // each delivery runs into the 1.5 s timeout
    let db = TestDb::create();
    let mut server = ServerProcess::start(
        &db.url(),
        &[
            ("PINPAY_DELIVERY_INTERVAL_MS", "50"),
            ("PINPAY_CALLBACK_TIMEOUT_MS", "1500"),
        ],
    );
    let api = Api::new(server.address());
    wait_healthy(&api.client, &api.base).await;
    let shop = api.corporate_plus("shop").await;
    api.put("/v1/callback-url", &shop, json!({"url": receiver.url()}))
        .await;
    // 30 cancelled links: 30 events of one merchant.
    for _ in 0..30 {
        let link = api
            .post("/v1/money-requests", Some(&shop), json!({"amount": "1.00"}))
            .await;
        let cancel = format!("/v1/money-requests/{}/cancel", link["id"].as_str().unwrap());
        api.post(&cancel, Some(&shop), json!({})).await;
    }

    // A round is in flight (its deliveries hang); then SIGTERM.
    receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_flight = receiver.hits().len();
    assert!(in_flight < 30, "one round, not every event, is in flight");
    let took = server
        .terminate(Duration::from_secs(30))
        .expect("the server exits after SIGTERM");
    assert_eq!(
        receiver.hits().len(),
        in_flight,
        "no delivery started after SIGTERM (exit took {took:?})"
    );
}
