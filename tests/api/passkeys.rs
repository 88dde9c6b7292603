//! Passkeys as the device factor beside the PIN, against the API with a software
//! authenticator (`webauthn-authenticator-rs`'s SoftPasskey): registration with the
//! password; once a wallet has a passkey every approval, transfer and payout needs its
//! assertion of a challenge bound to the operation, amount and payee; an assertion
//! confirms nothing else, is used once, and a refusal moves nothing and counts no PIN try.

use crate::helpers::{TestApp, PASSWORD, PIN};
use diesel::prelude::*;
use pinpay::db::schema::{ledger_transactions as lt, money_request_events as ev};
use serde_json::{json, Value};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

/// The origin the server expects for its default public URL (a loopback address is its
/// `localhost`).
fn origin() -> Url {
    Url::parse("http://localhost:8080").unwrap()
}

type Authenticator = WebauthnAuthenticator<SoftPasskey>;

fn authenticator() -> Authenticator {
    // `true`: the software key reports user verification, as a phone's biometrics would.
    WebauthnAuthenticator::new(SoftPasskey::new(true))
}

/// Registers a passkey of `key` for the wallet behind `token`.
async fn register(app: &TestApp, token: &str, key: &mut Authenticator) -> Value {
    let options = app
        .post("/v1/me/passkeys/registration", Some(token), json!({}))
        .await
        .ok(201)
        .clone();
    let options: CreationChallengeResponse =
        serde_json::from_value(json!({"publicKey": options["publicKey"]})).unwrap();
    let credential = key.do_registration(origin(), options).unwrap();
    app.post(
        "/v1/me/passkeys",
        Some(token),
        json!({"name": "Phone", "password": PASSWORD, "credential": credential}),
    )
    .await
    .ok(201)
    .clone()
}

/// The passkey's assertion of the challenge the server issues at `path` for `body`.
async fn assert_at(
    app: &TestApp,
    token: &str,
    key: &mut Authenticator,
    path: &str,
    body: Value,
) -> (Value, Value) {
    let challenge = app.post(path, Some(token), body).await.ok(201).clone();
    let options: RequestChallengeResponse =
        serde_json::from_value(json!({"publicKey": challenge["publicKey"]})).unwrap();
    let assertion = key.do_authentication(origin(), options).unwrap();
    (serde_json::to_value(assertion).unwrap(), challenge)
}

async fn request_assertion(app: &TestApp, token: &str, key: &mut Authenticator, id: &str) -> Value {
    let path = format!("/v1/wallet/money-requests/{id}/passkey-challenge");
    let (assertion, challenge) = assert_at(app, token, key, &path, json!({})).await;
    assert_eq!(challenge["signs"]["operation"], id);
    assert_eq!(challenge["signs"]["payee"], "shop");
    assertion
}

async fn approve_with(
    app: &TestApp,
    token: &str,
    id: &str,
    webauthn: Option<&Value>,
) -> crate::helpers::Res {
    let mut body = json!({"pin": PIN});
    if let Some(w) = webauthn {
        body["webauthn"] = w.clone();
    }
    app.post(
        &format!("/v1/wallet/money-requests/{id}/approve"),
        Some(token),
        body,
    )
    .await
}

async fn request(app: &TestApp, shop: &str, amount: &str) -> String {
    app.create_request(shop, json!({"payer": "anna", "amount": amount}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn db(app: &TestApp) -> pinpay::db::Db {
    pinpay::db::Db::connect(&app.database_url(), 1).unwrap()
}

/// The factors recorded on each payment's ledger transaction, as the database holds them.
pub fn payment_factors(app: &TestApp) -> Vec<Option<String>> {
    let db = db(app);
    let mut c = db.get().unwrap();
    lt::table
        .filter(lt::kind.eq("payment"))
        .order(lt::id.asc())
        .select(lt::factors)
        .load(&mut **c)
        .unwrap()
}

#[tokio::test]
async fn a_passkey_assertion_approves_only_the_request_amount_and_payee_it_was_made_for() {
    let app = TestApp::spawn().await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    let mut key = authenticator();

    let registered = register(&app, &anna, &mut key).await;
    assert!(registered["id"].as_str().unwrap().starts_with("pk_"));
    let listed = app
        .get("/v1/me/passkeys", Some(&anna))
        .await
        .ok(200)
        .clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["name"], "Phone");
    assert_eq!(listed["data"][0]["last_used_at"], Value::Null);

    let first = request(&app, &shop, "12.50").await;
    let second = request(&app, &shop, "13.00").await;

    // With a passkey, the PIN alone is refused before a try is taken; nothing moves.
    let refused = approve_with(&app, &anna, &first, None).await;
    assert_eq!(
        refused.problem(403, "device_factor_required")["has_passkey"],
        true
    );
    let for_first = request_assertion(&app, &anna, &mut key, &first).await;

    // The assertion for 12.50 to request one does not approve request two (13.00).
    let wrong = approve_with(&app, &anna, &second, Some(&for_first)).await;
    let p = wrong.problem(403, "passkey_binding_mismatch");
    assert_eq!(p["signed_operation"], first.as_str());
    assert_eq!(p["signed_amount"], "12.50");
    // A tampered assertion (its signature changed) does not verify.
    let mut forged = for_first.clone();
    forged["response"]["signature"] = json!("AAAA");
    approve_with(&app, &anna, &first, Some(&forged))
        .await
        .problem(403, "passkey_invalid");
    assert_eq!(app.balance(&anna).await, "100.00");
    for id in [&first, &second] {
        let r = app
            .get(&format!("/v1/wallet/money-requests/{id}"), Some(&anna))
            .await;
        assert_eq!(r.ok(200)["status"], "pending");
    }
    // None of the refusals took a PIN try: a wrong PIN now still has all but one left.
    let wrong_pin = app
        .post(
            &format!("/v1/wallet/money-requests/{second}/approve"),
            Some(&anna),
            json!({"pin": "000001", "webauthn": request_assertion(&app, &anna, &mut key, &second).await}),
        )
        .await;
    assert_eq!(
        wrong_pin.problem(403, "pin_invalid")["attempts_remaining"],
        4
    );

    // Its own assertion and the PIN approve it.
    let approved = approve_with(&app, &anna, &first, Some(&for_first)).await;
    assert_eq!(approved.ok(200)["status"], "approved");
    assert_eq!(app.balance(&anna).await, "87.50");
    // Replayed, it approves nothing more (the request is paid, the challenge used).
    approve_with(&app, &anna, &first, Some(&for_first))
        .await
        .problem(409, "request_not_pending");
    let on_second = approve_with(&app, &anna, &second, Some(&for_first)).await;
    on_second.problem(403, "passkey_challenge_unknown");
    assert_eq!(app.balance(&anna).await, "87.50");

    // The factors are recorded with the approval and its ledger transaction, and the
    // merchant's view of the events does not show them.
    let db = db(&app);
    let mut c = db.get().unwrap();
    let factors: Vec<Option<String>> = ev::table
        .filter(ev::event_type.eq("approved"))
        .select(ev::factors)
        .load(&mut **c)
        .unwrap();
    assert_eq!(factors, vec![Some("pin+passkey".to_string())]);
    assert_eq!(payment_factors(&app), vec![Some("pin+passkey".to_string())]);
    let events = app
        .get(&format!("/v1/money-requests/{first}/events"), Some(&shop))
        .await
        .ok(200)
        .to_string();
    assert!(!events.contains("passkey"), "{events}");
    let used = app
        .get("/v1/me/passkeys", Some(&anna))
        .await
        .ok(200)
        .clone();
    assert!(used["data"][0]["last_used_at"].is_string());

    let report = app.ledger_report().await;
    assert_eq!(report["ok"], true, "{report}");
}

#[tokio::test]
async fn transfers_and_payouts_need_the_passkey_and_an_assertion_is_used_once() {
    let app = TestApp::spawn().await;
    let anna = app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    app.wallet_user("carl").await;
    app.deposit("anna", "50.00").await.ok(201);
    let mut key = authenticator();
    register(&app, &anna, &mut key).await;

    app.transfer(&anna, "ben", "5.00")
        .await
        .problem(403, "device_factor_required");
    let (to_ben, challenge) = assert_at(
        &app,
        &anna,
        &mut key,
        "/v1/transfers/passkey-challenge",
        json!({"to": "ben", "amount": "5.00"}),
    )
    .await;
    assert_eq!(challenge["signs"]["payee"], "ben");
    assert_eq!(challenge["signs"]["amount"], "5.00");
    let send = |to: &str, amount: &str, w: &Value| json!({"to": to, "amount": amount, "pin": PIN, "webauthn": w});
    // Another payee or another amount than signed is refused.
    app.post("/v1/transfers", Some(&anna), send("carl", "5.00", &to_ben))
        .await
        .problem(403, "passkey_binding_mismatch");
    app.post("/v1/transfers", Some(&anna), send("ben", "50.00", &to_ben))
        .await
        .problem(403, "passkey_binding_mismatch");
    app.post("/v1/transfers", Some(&anna), send("ben", "5.00", &to_ben))
        .await
        .ok(201);
    // The same assertion again: refused, nothing sent twice.
    app.post("/v1/transfers", Some(&anna), send("ben", "5.00", &to_ben))
        .await
        .problem(403, "passkey_challenge_unknown");
    assert_eq!(app.balance(&anna).await, "45.00");

    // A merchant's payout signs the amount to its own (verified) IBAN.
    app.merchant_app("shop", "corporate").await;
    let shop = app.verify_bank_account("shop").await;
    app.deposit("shop", "20.00").await.ok(201);
    let mut shop_key = authenticator();
    register(&app, &shop, &mut shop_key).await;
    app.payout(&shop, "10.00")
        .await
        .problem(403, "device_factor_required");
    let (payout, challenge) = assert_at(
        &app,
        &shop,
        &mut shop_key,
        "/v1/payouts/passkey-challenge",
        json!({"amount": "10.00"}),
    )
    .await;
    let iban = app.get("/v1/me", Some(&shop)).await.ok(200)["iban"].clone();
    assert_eq!(challenge["signs"]["payee"], iban);
    // Anna's passkey cannot confirm the shop's payout.
    let (annas, _) = assert_at(
        &app,
        &anna,
        &mut key,
        "/v1/transfers/passkey-challenge",
        json!({"to": "ben", "amount": "10.00"}),
    )
    .await;
    let pay_out = |w: &Value| json!({"amount": "10.00", "pin": PIN, "webauthn": w});
    app.post("/v1/payouts", Some(&shop), pay_out(&annas))
        .await
        .problem(403, "passkey_challenge_unknown");
    let before = app.balance(&shop).await;
    app.post("/v1/payouts", Some(&shop), pay_out(&payout))
        .await
        .ok(201);
    let after = app.balance(&shop).await;
    assert!(
        after.parse::<f64>().unwrap() <= before.parse::<f64>().unwrap() - 10.0,
        "{before} -> {after}"
    );

    // A refused operation uses its verified assertion up: a wrong PIN, then the same
    // assertion with the right PIN is refused.
    let (once, _) = assert_at(
        &app,
        &anna,
        &mut key,
        "/v1/transfers/passkey-challenge",
        json!({"to": "ben", "amount": "2.00"}),
    )
    .await;
    let mut wrong_pin = send("ben", "2.00", &once);
    wrong_pin["pin"] = json!("000001");
    app.post("/v1/transfers", Some(&anna), wrong_pin)
        .await
        .problem(403, "pin_invalid");
    app.post("/v1/transfers", Some(&anna), send("ben", "2.00", &once))
        .await
        .problem(403, "passkey_challenge_unknown");
    assert_eq!(app.balance(&anna).await, "45.00");

    // Neither a second passkey nor the removal of one goes with the password alone: one
    // of the wallet's passkeys confirms it.
    let id = app.get("/v1/me/passkeys", Some(&anna)).await.ok(200)["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut second_key = authenticator();
    let options = app
        .post("/v1/me/passkeys/registration", Some(&anna), json!({}))
        .await
        .ok(201)
        .clone();
    let options: CreationChallengeResponse =
        serde_json::from_value(json!({"publicKey": options["publicKey"]})).unwrap();
    let credential = second_key.do_registration(origin(), options).unwrap();
    let add = |w: Option<&Value>| {
        let mut body = json!({"name": "Laptop", "password": PASSWORD, "credential": credential});
        if let Some(w) = w {
            body["webauthn"] = w.clone();
        }
        body
    };
    app.post("/v1/me/passkeys", Some(&anna), add(None))
        .await
        .problem(403, "device_factor_required");
    let (confirm_add, _) = assert_at(
        &app,
        &anna,
        &mut key,
        "/v1/me/passkeys/challenge",
        json!({"action": "add"}),
    )
    .await;
    app.post("/v1/me/passkeys", Some(&anna), add(Some(&confirm_add)))
        .await
        .ok(201);
    let listed = app
        .get("/v1/me/passkeys", Some(&anna))
        .await
        .ok(200)
        .clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);

    let path = format!("/v1/me/passkeys/{id}");
    let remove = |password: &str, w: Option<&Value>| {
        let mut body = json!({"password": password});
        if let Some(w) = w {
            body["webauthn"] = w.clone();
        }
        Some(crate::helpers::RawBody::Json(body))
    };
    let wrong = app
        .request("DELETE", &path, Some(&anna), remove("not it", None))
        .await;
    assert!(wrong.status == 401 || wrong.status == 403, "{}", wrong.body);
    app.request("DELETE", &path, Some(&anna), remove(PASSWORD, None))
        .await
        .problem(403, "device_factor_required");
    // The second passkey confirms the first one's removal.
    let (confirm_remove, _) = assert_at(
        &app,
        &anna,
        &mut second_key,
        "/v1/me/passkeys/challenge",
        json!({"action": "remove", "passkey": id}),
    )
    .await;
    app.request(
        "DELETE",
        &path,
        Some(&anna),
        remove(PASSWORD, Some(&confirm_remove)),
    )
    .await
    .ok(204);
    let listed = app
        .get("/v1/me/passkeys", Some(&anna))
        .await
        .ok(200)
        .clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["name"], "Laptop");
    // With the second passkey left, the PIN alone still does not send money.
    app.transfer(&anna, "ben", "1.00")
        .await
        .problem(403, "device_factor_required");
    let (last, _) = assert_at(
        &app,
        &anna,
        &mut second_key,
        "/v1/transfers/passkey-challenge",
        json!({"to": "ben", "amount": "1.00"}),
    )
    .await;
    app.post("/v1/transfers", Some(&anna), send("ben", "1.00", &last))
        .await
        .ok(201);
    assert_eq!(app.balance(&anna).await, "44.00");
    let report = app.ledger_report().await;
    assert_eq!(report["ok"], true, "{report}");
}

#[tokio::test]
async fn above_the_configured_amount_every_wallet_needs_a_passkey() {
    let app = TestApp::spawn_with(|c| {
        c.sca_device_required_above = Some(pinpay::domain::money::Money::cents(3000))
    })
    .await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);

    let small = request(&app, &shop, "30.00").await;
    let large = request(&app, &shop, "30.01").await;
    let refused = approve_with(&app, &anna, &large, None).await;
    assert_eq!(
        refused.problem(403, "device_factor_required")["has_passkey"],
        false
    );
    assert_eq!(app.balance(&anna).await, "100.00");
    approve_with(&app, &anna, &small, None).await.ok(200);
    assert_eq!(app.balance(&anna).await, "70.00");

    let mut key = authenticator();
    register(&app, &anna, &mut key).await;
    let assertion = request_assertion(&app, &anna, &mut key, &large).await;
    approve_with(&app, &anna, &large, Some(&assertion))
        .await
        .ok(200);
    assert_eq!(app.balance(&anna).await, "39.99");
}

/// Chromium with a WebDriver virtual authenticator registers a passkey through the API
/// from the page's origin, then pays on the hosted page: the page asks the passkey to
/// sign the request's challenge and posts its assertion with the PIN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_registers_a_passkey_and_pays_on_the_hosted_page() {
    // Passkeys need a host name: the page is opened as http://localhost:PORT.
    let port = crate::receiver::Receiver::free_port();
    let app = TestApp::spawn_with(|c| {
        c.bind = format!("127.0.0.1:{port}");
        c.public_url = format!("http://localhost:{port}");
    })
    .await;
    let shop = app.corporate_plus("shop").await;
    let anna = app.wallet_user("anna").await;
    app.deposit("anna", "100.00").await.ok(201);
    let id = request(&app, &shop, "12.50").await;
    let page = format!("http://localhost:{port}/pay/{id}");

    let b = crate::browser::Browser::start(390).await;
    let authenticator = b.add_virtual_authenticator().await;
    b.goto(&page).await;
    let registered = b
        .execute_async(REGISTER_SCRIPT, vec![json!(anna), json!(PASSWORD)])
        .await;
    assert_eq!(registered["status"], 201, "{registered}");
    assert_eq!(registered["body"]["name"], "Chromium");
    assert_eq!(b.authenticator_credentials(&authenticator).await.len(), 1);

    b.type_into("#username", "anna").await;
    b.type_into("#password", PASSWORD).await;
    b.click("#login-button").await;
    let note = b.text("#passkey-note").await;
    assert!(note.contains("12.50") && note.contains("Shop"), "{note}");
    b.type_into("#pin", PIN).await;
    b.fit_height(390).await;
    b.screenshot("pay-passkey-390").await;
    b.fit_height(1280).await;
    b.screenshot("pay-passkey-1280").await;
    b.click("#pay").await;
    b.wait_text("#status", "Paid", std::time::Duration::from_secs(10))
        .await;
    b.screenshot("pay-passkey-approved-1280").await;
    b.fit_height(390).await;
    b.screenshot("pay-passkey-approved-390").await;
    let signed = b.authenticator_credentials(&authenticator).await;
    assert!(signed[0]["signCount"].as_u64().unwrap() >= 1, "{signed:?}");
    b.quit().await;

    assert_eq!(app.balance(&anna).await, "87.50");
    assert_eq!(payment_factors(&app), vec![Some("pin+passkey".to_string())]);
}

/// Registers a passkey from the page through the API, as the wallet app will: arguments
/// are the app token and the password; answers `{status, body}` of `POST /v1/me/passkeys`.
pub const REGISTER_SCRIPT: &str = r#"
const [token, password, done] = arguments;
const bytes = s => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), c => c.charCodeAt(0));
const text = buf => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
(async () => {
  const headers = { authorization: "Bearer " + token, "content-type": "application/json" };
  const opened = await fetch("/v1/me/passkeys/registration", { method: "POST", headers, body: "{}" });
  const o = (await opened.json()).publicKey;
  o.challenge = bytes(o.challenge);
  o.user.id = bytes(o.user.id);
  o.excludeCredentials = (o.excludeCredentials || []).map(c => ({ ...c, id: bytes(c.id) }));
  const cred = await navigator.credentials.create({ publicKey: o });
  const credential = {
    id: cred.id, rawId: text(cred.rawId), type: cred.type, extensions: {},
    response: {
      attestationObject: text(cred.response.attestationObject),
      clientDataJSON: text(cred.response.clientDataJSON)
    }
  };
  const r = await fetch("/v1/me/passkeys", {
    method: "POST", headers, body: JSON.stringify({ name: "Chromium", password, credential })
  });
  done({ status: r.status, body: await r.json() });
})().catch(e => done({ error: String(e) }));
"#;
