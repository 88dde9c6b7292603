//! Crashes: the real `pinpay` binary is killed with SIGKILL while keyed transfers,
//! approvals, refunds and bulk calls run; after each restart every operation is retried
//! with its key until it answers something other than 409, 429 or 5xx (or a transport
//! error): checks registered by the killed process hold the wallet's PIN tries until
//! their lease ends, and the server says so with 429 `pin_check_busy`. Then
//! each took effect exactly once, each retry got the real outcome, and the ledger
//! verifies (the harness checks it when the database is dropped).

use crate::helpers::{TestDb, PIN};
use crate::process::{wait_healthy, Api, ServerProcess};
use futures::StreamExt;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KILLS: usize = 3;
const WALLETS: usize = 4;

/// One keyed operation and what it answered last.
#[derive(Clone)]
struct Op {
    kind: &'static str,
    token: String,
    path: String,
    key: String,
    body: Value,
}

/// Sends `op` once: `Ok((status, body))` for a final answer, `Err(what it got)` to retry
/// (the server is down, restarting, or the key is still held).
async fn send(client: &reqwest::Client, address: &str, op: &Op) -> Result<(u16, Value), String> {
    let res = client
        .post(format!("{address}{}", op.path))
        .bearer_auth(&op.token)
        .header("Idempotency-Key", &op.key)
        .json(&op.body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = res.status().as_u16();
    let body: Value = res
        .json()
        .await
        .map_err(|e| format!("{status}, body: {e}"))?;
    // 409: the key is in flight; 429: retry shortly (e.g. PIN tries held by checks of the
    // killed process until their lease ends); 5xx: the server is restarting.
    match status != 409 && status != 429 && status < 500 {
        true => Ok((status, body)),
        false => Err(format!("{status} {body}")),
    }
}

/// Sends until a final answer; every final answer an op ever gets is kept.
async fn drive(
    client: &reqwest::Client,
    address: &str,
    op: &Op,
    answers: &Mutex<HashMap<String, Vec<(u16, Value)>>>,
    until: Instant,
) {
    let (mut tries, mut last) = (0, String::new());
    while Instant::now() < until {
        tries += 1;
        match send(client, address, op).await {
            Ok(answer) => {
                answers
                    .lock()
                    .unwrap()
                    .entry(op.key.clone())
                    .or_default()
                    .push(answer);
                return;
            }
            Err(got) => last = got,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{} gave up after {tries} tries, the last got {last}",
        op.key
    );
}

async fn post(
    client: &reqwest::Client,
    address: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut req = client.post(format!("{address}{path}")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status < 300, "{path}: {status} {body}");
    body
}

async fn get(client: &reqwest::Client, address: &str, path: &str, token: &str) -> Value {
    let res = client
        .get(format!("{address}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

/// Every page of a list.
async fn all(client: &reqwest::Client, address: &str, path: &str, token: &str) -> Vec<Value> {
    let (mut items, mut after) = (Vec::new(), None::<String>);
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page_path = match &after {
            Some(id) => format!("{path}{sep}limit=100&starting_after={id}"),
            None => format!("{path}{sep}limit=100"),
        };
        let page = get(client, address, &page_path, token).await;
        let data = page["data"].as_array().unwrap().clone();
        after = data.last().map(|i| i["id"].as_str().unwrap().to_string());
        items.extend(data);
        if page["has_more"] != true {
            return items;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_mid_operation_every_keyed_operation_takes_effect_exactly_once() {
    let db = TestDb::create();
    let mut server = ServerProcess::start(&db.url(), &[("PINPAY_IDEMPOTENCY_LEASE_SECS", "1")]);
    let client = reqwest::Client::new();
    let address = server.address();
    wait_healthy(&client, &address).await;

    // A Corporate+ merchant with an API token and PIN-holding wallets with money.
    let api = Api::new(address.clone());
    let shop = api.corporate_plus("shop").await;
    let mut wallets = Vec::new();
    for i in 0..WALLETS {
        let name = format!("wallet{i}");
        let token = api.wallet(&name, "1000.00").await;
        wallets.push((name, token));
    }
    let a = address.as_str();
    // Requests to approve during the chaos, and paid ones to refund during it.
    let mut to_approve = Vec::new();
    for i in 0..24 {
        let payer = &wallets[i % WALLETS].0;
        let r = post(
            &client,
            a,
            "/v1/money-requests",
            Some(&shop),
            json!({"payer": payer, "amount": "2.00"}),
        )
        .await;
        to_approve.push((i % WALLETS, r["id"].as_str().unwrap().to_string()));
    }
    let mut paid = Vec::new();
    for i in 0..8 {
        let (payer, token) = &wallets[i % WALLETS];
        let r = post(
            &client,
            a,
            "/v1/money-requests",
            Some(&shop),
            json!({"payer": payer, "amount": "10.00"}),
        )
        .await;
        let id = r["id"].as_str().unwrap().to_string();
        post(
            &client,
            a,
            &format!("/v1/wallet/money-requests/{id}/approve"),
            Some(token),
            json!({"pin": PIN}),
        )
        .await;
        paid.push(id);
    }

    // The keyed operations, in KILLS rounds.
    let mut rounds: Vec<Vec<Op>> = vec![Vec::new(); KILLS];
    for k in 0..48 {
        let (from, to) = (k % WALLETS, (k + 1) % WALLETS);
        rounds[k % KILLS].push(Op {
            kind: "transfer",
            token: wallets[from].1.clone(),
            path: "/v1/transfers".into(),
            key: format!("transfer-{k}"),
            body: json!({"to": wallets[to].0, "amount": "1.00", "pin": PIN, "description": format!("crash transfer {k}")}),
        });
    }
    for (k, (payer, id)) in to_approve.iter().enumerate() {
        rounds[k % KILLS].push(Op {
            kind: "approval",
            token: wallets[*payer].1.clone(),
            path: format!("/v1/wallet/money-requests/{id}/approve"),
            key: format!("approve-{k}"),
            body: json!({"pin": PIN}),
        });
    }
    for k in 0..paid.len() * 2 {
        rounds[k % KILLS].push(Op {
            kind: "refund",
            token: shop.clone(),
            path: format!("/v1/money-requests/{}/refunds", paid[k / 2]),
            key: format!("refund-{k}"),
            body: json!({"amount": "1.50"}),
        });
    }
    for k in 0..6 {
        let items: Vec<Value> = (0..40)
            .map(|i| json!({"payer": wallets[i % WALLETS].0, "amount": "1.00", "reference": format!("bulk-{k}-{i}")}))
            .collect();
        rounds[k % KILLS].push(Op {
            kind: "bulk",
            token: shop.clone(),
            path: "/v1/money-requests/bulk".into(),
            key: format!("bulk-{k}"),
            body: json!({"requests": items}),
        });
    }
    for round in rounds.iter_mut() {
        round.shuffle(&mut rand::thread_rng());
    }
    let ops: Vec<Op> = rounds.concat();

    // Each round starts its operations and is killed at a random moment of it; the
    // operations keep retrying across the restart.
    let answers = Arc::new(Mutex::new(HashMap::<String, Vec<(u16, Value)>>::new()));
    let until = Instant::now() + Duration::from_secs(120);
    for round in rounds {
        let (client2, address2, answers2) = (client.clone(), address.clone(), answers.clone());
        let running = tokio::spawn(async move {
            futures::stream::iter(round)
                .for_each_concurrent(8, |op| {
                    let (client, address, answers) = (&client2, &address2, &answers2);
                    async move { drive(client, address, &op, answers, until).await }
                })
                .await;
        });
        let delay = rand::thread_rng().gen_range(50..400);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.spawn();
        wait_healthy(&client, &address).await;
        running.await.unwrap();
    }
    // Every operation once more with its key: the replay must be the answer it got.
    for op in &ops {
        drive(&client, &address, op, &answers, until).await;
    }

    let answers = answers.lock().unwrap().clone();
    let unfinished: Vec<&str> = ops
        .iter()
        .filter(|op| answers.get(&op.key).map_or(0, Vec::len) < 2)
        .map(|op| op.key.as_str())
        .collect();
    if !unfinished.is_empty() {
        let log = server.log_text();
        let lines: Vec<&str> = log.lines().collect();
        panic!(
            "never got a final answer: {unfinished:?}; the server's log ends:\n{}",
            lines[lines.len().saturating_sub(60)..].join("\n")
        );
    }
    let mut done: HashMap<&str, usize> = HashMap::new();
    for op in &ops {
        let got = &answers[&op.key];
        let (status, body) = &got[0];
        assert!(
            (200..300).contains(status),
            "{} ({}) answered {status} {body}",
            op.key,
            op.kind
        );
        for (later_status, later_body) in &got[1..] {
            assert_eq!(
                (later_status, later_body),
                (status, body),
                "{}: a retry got another outcome than the first answer",
                op.key
            );
        }
        *done.entry(op.kind).or_default() += 1;
    }
    assert_eq!(done["transfer"], 48);
    assert_eq!(done["approval"], 24);
    assert_eq!(done["refund"], 16);
    assert_eq!(done["bulk"], 6);

    // Transfers: each description is booked once, as the transaction the answer names.
    for (name, token) in &wallets {
        let postings = all(&client, &address, "/v1/transactions?kind=transfer", token).await;
        let mut seen: HashMap<String, Vec<String>> = HashMap::new();
        for p in postings
            .iter()
            .filter(|p| p["amount"].as_str().unwrap().starts_with('-'))
        {
            seen.entry(p["description"].as_str().unwrap().to_string())
                .or_default()
                .push(p["transaction_id"].as_str().unwrap().to_string());
        }
        for op in ops
            .iter()
            .filter(|o| o.kind == "transfer" && o.token == *token)
        {
            let description = op.body["description"].as_str().unwrap();
            let booked = seen.get(description).cloned().unwrap_or_default();
            assert_eq!(booked.len(), 1, "{name}: {description} booked {booked:?}");
            assert_eq!(answers[&op.key][0].1["id"], booked[0]);
        }
    }
    // Approvals: each request approved once; payers paid exactly what they owe.
    for (_, id) in &to_approve {
        let r = get(
            &client,
            &address,
            &format!("/v1/money-requests/{id}"),
            &shop,
        )
        .await;
        assert_eq!(r["status"], "approved", "{id}");
    }
    // Refunds: two per paid request, exactly the ones answered.
    for id in &paid {
        let refunds = get(
            &client,
            &address,
            &format!("/v1/money-requests/{id}/refunds"),
            &shop,
        )
        .await;
        let mut stored: Vec<String> = refunds["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        let mut answered: Vec<String> = ops
            .iter()
            .filter(|o| o.kind == "refund" && o.path.contains(id.as_str()))
            .map(|o| answers[&o.key][0].1["id"].as_str().unwrap().to_string())
            .collect();
        stored.sort();
        answered.sort();
        assert_eq!(stored, answered, "{id}");
    }
    // Bulk: every reference exists once, as the request the answer names.
    let requests = all(&client, &address, "/v1/money-requests", &shop).await;
    let mut by_reference: HashMap<String, Vec<String>> = HashMap::new();
    for r in &requests {
        if let Some(reference) = r["reference"].as_str() {
            by_reference
                .entry(reference.to_string())
                .or_default()
                .push(r["id"].as_str().unwrap().to_string());
        }
    }
    for op in ops.iter().filter(|o| o.kind == "bulk") {
        let answer = &answers[&op.key][0].1;
        assert_eq!(answer["created"], 40, "{answer}");
        for item in answer["data"].as_array().unwrap() {
            let request = &item["money_request"];
            let reference = request["reference"].as_str().unwrap();
            assert_eq!(
                by_reference[reference],
                vec![request["id"].as_str().unwrap().to_string()],
                "{reference}"
            );
        }
    }
    assert_eq!(by_reference.len(), 6 * 40);
    // Balances: each wallet paid its approvals and bulk nothing; transfers net to zero
    // per wallet (one out and one in per round of four); refunds returned 3.00 each.
    for (i, (name, token)) in wallets.iter().enumerate() {
        let approvals = to_approve.iter().filter(|(p, _)| *p == i).count() as i64 * 200;
        let paid_tens = paid
            .iter()
            .enumerate()
            .filter(|(k, _)| k % WALLETS == i)
            .count() as i64;
        let expected = 100_000 - approvals - paid_tens * 1000 + paid_tens * 300;
        let balance = get(&client, &address, "/v1/balance", token).await["balance"]
            .as_str()
            .unwrap()
            .replace('.', "")
            .parse::<i64>()
            .unwrap();
        assert_eq!(balance, expected, "{name}");
    }
    server.kill();
    drop(server);
    drop(db);
}

/// A loopback relay to `target` that forwards what clients send and swallows every byte
/// the server answers: the client of a call through it never learns the outcome.
async fn swallowing_relay(target: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut from_server, mut to_server) = server.into_split();
                let (mut from_client, _to_client) = client.split();
                let mut nowhere = tokio::io::sink();
                let swallow = tokio::io::copy(&mut from_server, &mut nowhere);
                let forward = tokio::io::copy(&mut from_client, &mut to_server);
                // The server gone, the client's connection closes too.
                tokio::select! {
                    _ = swallow => {}
                    _ = forward => {}
                }
            });
        }
    });
    address
}

/// The server is killed after an approval's money moved and before its answer reached the
/// client (the answer goes through a relay that swallows it; the kill comes once the
/// request reads approved). After the restart the retry with the same key gets the stored
/// outcome, 200 and the approved request, not a 409 for a request no longer pending; the
/// payer paid once; the ledger verifies when the database is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_money_movement_and_the_answer_leaves_the_key_replayable() {
    let db = TestDb::create();
    let mut server = ServerProcess::start(&db.url(), &[]);
    let client = reqwest::Client::new();
    let address = server.address();
    wait_healthy(&client, &address).await;
    let api = Api::new(address.clone());
    let shop = api.corporate_plus("shop").await;
    let anna = api.wallet("anna", "100.00").await;
    let created = api
        .post(
            "/v1/money-requests",
            Some(&shop),
            json!({"payer": "anna", "amount": "10.00"}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/v1/wallet/money-requests/{id}/approve");

    let relay = swallowing_relay(address.trim_start_matches("http://").to_string()).await;
    let (lost_client, lost_path, lost_token) = (client.clone(), path.clone(), anna.clone());
    let lost = tokio::spawn(async move {
        lost_client
            .post(format!("{relay}{lost_path}"))
            .bearer_auth(&lost_token)
            .header("Idempotency-Key", "approve-once")
            .json(&json!({"pin": PIN}))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = api.get(&format!("/v1/money-requests/{id}"), &shop).await;
        if r["status"] == "approved" {
            break;
        }
        assert!(Instant::now() < deadline, "the approval never committed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    assert!(
        lost.await.unwrap().is_err(),
        "the first call must not have seen an answer"
    );

    server.spawn();
    wait_healthy(&client, &address).await;
    let mut replies = Vec::new();
    for _ in 0..2 {
        let res = client
            .post(format!("{address}{path}"))
            .bearer_auth(&anna)
            .header("Idempotency-Key", "approve-once")
            .json(&json!({"pin": PIN}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        replies.push((status, res.json::<Value>().await.unwrap()));
    }
    let (status, body) = &replies[0];
    assert_eq!(*status, 200, "{body}");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["status"], "approved");
    assert_eq!(replies[1], replies[0], "the replay is the stored outcome");
    // Without the key the same approval is refused: the request is no longer pending.
    let again = client
        .post(format!("{address}{path}"))
        .bearer_auth(&anna)
        .json(&json!({"pin": PIN}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 409);
    let balance = api.get("/v1/balance", &anna).await;
    assert_eq!(balance["balance"], "90.00", "the payer paid once");
    let payments = api.get("/v1/transactions?kind=payment", &anna).await;
    assert_eq!(payments["data"].as_array().unwrap().len(), 1);
    server.kill();
}
