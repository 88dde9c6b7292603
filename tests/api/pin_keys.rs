//! PINs kept as keyed tags (`PINPAY_PIN_KEYS`): new PINs are tagged under the newest key;
//! an argon2 PIN from before, or a tag under an older key, is accepted once and tagged
//! anew in the same transaction; a PIN under a key the server lacks is refused without
//! counting; and a copy of the accounts table gives up no PIN without the key.

use crate::helpers::{TestApp, PIN};
use diesel::prelude::*;
use pinpay::db::schema::accounts;
use pinpay::domain::pin_tag::{PinKeys, Verdict};
use serde_json::json;

const K1: &str = "1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const K2: &str = "2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const K3: &str = "3:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";
const WRONG: &str = "111112";

fn keys(raw: &str) -> PinKeys {
    PinKeys::parse(raw).unwrap()
}

/// The account's id, stored PIN and failed PIN count, as the database holds them.
fn stored(app: &TestApp, username: &str) -> (i64, String, i64) {
    let db = pinpay::db::Db::connect(&app.database_url(), 1).unwrap();
    let mut c = db.get().unwrap();
    let (id, pin, failed): (i64, Option<String>, i64) = accounts::table
        .filter(accounts::username.eq(username))
        .select((
            accounts::id,
            accounts::pin_hash,
            accounts::pin_failed_attempts,
        ))
        .first(&mut **c)
        .unwrap();
    (id, pin.unwrap(), failed)
}

/// Writes a stored PIN as a PinPay from before keyed tags left it.
fn store(app: &TestApp, username: &str, pin_hash: &str) {
    let db = pinpay::db::Db::connect(&app.database_url(), 1).unwrap();
    let mut c = db.get().unwrap();
    diesel::update(accounts::table.filter(accounts::username.eq(username)))
        .set(accounts::pin_hash.eq(pin_hash))
        .execute(&mut **c)
        .unwrap();
}

/// Two wallets with PIN `PIN`; `anna` holds 50.00 EUR. Returns anna's token.
async fn wallets(app: &TestApp) -> String {
    let anna = app.wallet_user("anna").await;
    app.wallet_user("ben").await;
    app.deposit("anna", "50.00").await.ok(201);
    anna
}

async fn send(app: &TestApp, token: &str, pin: &str) -> crate::helpers::Res {
    app.post(
        "/v1/transfers",
        Some(token),
        json!({"to": "ben", "amount": "1.00", "pin": pin}),
    )
    .await
}

#[tokio::test]
async fn pins_are_keyed_tags_and_an_argon2_pin_from_before_is_tagged_on_its_next_entry() {
    let app = TestApp::spawn_with(|c| c.pin_keys = keys(K1)).await;
    let anna = wallets(&app).await;
    let (id, tag, _) = stored(&app, "anna");
    assert!(tag.starts_with("pinpay-hmac$v1$"), "{tag}");
    assert_eq!(keys(K1).check(&tag, id, PIN), Verdict::Matches);

    // The PIN as the argon2 hash an earlier PinPay stored.
    let config = app.config();
    let hasher = pinpay::auth::hashing::Hasher::new(&config.pepper, config.argon2, 1).unwrap();
    let old = hasher.hash(PIN.to_string()).await.unwrap();
    assert!(old.starts_with("$argon2id$"), "{old}");
    store(&app, "anna", &old);

    let wrong = send(&app, &anna, WRONG).await;
    assert_eq!(wrong.problem(403, "pin_invalid")["attempts_remaining"], 4);
    assert_eq!(stored(&app, "anna").1, old, "a wrong PIN tags nothing");
    send(&app, &anna, PIN).await.ok(201);
    let (_, retagged, failed) = stored(&app, "anna");
    assert_eq!(
        retagged,
        keys(K1).tag(id, PIN),
        "tagged in the transfer's transaction"
    );
    assert_eq!(failed, 0);
    send(&app, &anna, PIN).await.ok(201);
    assert_eq!(app.balance(&anna).await, "48.00");
}

#[tokio::test]
async fn rotation_tags_anew_under_the_newest_key_and_a_missing_key_refuses_without_counting() {
    let app = TestApp::spawn_with(|c| c.pin_keys = keys(K1)).await;
    let anna = wallets(&app).await;
    let id = stored(&app, "anna").0;

    // Keys 2,1: a version-1 tag still works and becomes version 2.
    let app = app
        .restart_with(|c| c.pin_keys = keys(&format!("{K2},{K1}")))
        .await;
    send(&app, &anna, PIN).await.ok(201);
    let tag = stored(&app, "anna").1;
    assert!(tag.starts_with("pinpay-hmac$v2$"), "{tag}");
    assert_eq!(keys(K2).check(&tag, id, PIN), Verdict::Matches);
    let status = pins_status(&app, &format!("{K2},{K1}"));
    assert!(status.0, "{}", status.1);
    assert!(
        status.1.contains("key version 2 (newest): 1 PINs"),
        "{}",
        status.1
    );
    assert!(status.1.contains("key version 1: 1 PINs"), "{}", status.1);

    // Key 1 retired: anna (version 2) pays; ben's version-1 PIN is reported.
    let app = app.restart_with(|c| c.pin_keys = keys(K2)).await;
    send(&app, &anna, PIN).await.ok(201);
    let status = pins_status(&app, K2);
    assert!(!status.0, "exit 1 while PINs are under a missing key");
    assert!(
        status
            .1
            .contains("under a key version not configured here: 1 PINs"),
        "{}",
        status.1
    );

    // A server without anna's key: neither the right PIN nor a wrong one gets through,
    // nothing is counted, nothing moves.
    let app = app.restart_with(|c| c.pin_keys = keys(K3)).await;
    for pin in [PIN, WRONG] {
        let res = send(&app, &anna, pin).await;
        assert!(
            res.problem(503, "pin_key_missing")["detail"]
                .as_str()
                .unwrap()
                .contains("version 2"),
            "{}",
            res.body
        );
    }
    assert_eq!(stored(&app, "anna").2, 0, "the refusals counted no try");
    assert_eq!(app.balance(&anna).await, "48.00");

    // Back with key 2: every try is still there.
    let app = app.restart_with(|c| c.pin_keys = keys(K2)).await;
    let wrong = send(&app, &anna, WRONG).await;
    assert_eq!(wrong.problem(403, "pin_invalid")["attempts_remaining"], 4);
    send(&app, &anna, PIN).await.ok(201);
    assert_eq!(app.balance(&anna).await, "47.00");
}

/// `pinpay pins status` on the app's database with `keys`: (exit success, output).
fn pins_status(app: &TestApp, keys: &str) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pinpay"))
        .args(["pins", "status"])
        .env_clear()
        .env("DATABASE_URL", app.database_url())
        .env("PINPAY_PIN_KEYS", keys)
        .env("RUST_LOG", "error")
        .output()
        .expect("run pinpay pins status");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The stolen-database case: with a copy of the accounts table, every one of the 10^6
/// PINs is tried against the stored tag under a key the thief could guess: none matches.
/// The same search under the server's key finds the PIN, so the key is the whole secret.
#[tokio::test]
async fn a_copy_of_the_accounts_table_gives_up_no_pin_without_the_key() {
    let app = TestApp::spawn_with(|c| c.pin_keys = keys(K1)).await;
    app.wallet_user("anna").await;
    let (id, tag, _) = stored(&app, "anna");
    assert!(!tag.contains(PIN));
    let search = |keys: &PinKeys| {
        (0..1_000_000)
            .map(|n| format!("{n:06}"))
            .filter(|pin| keys.check(&tag, id, pin) == Verdict::Matches)
            .collect::<Vec<_>>()
    };
    let guessed = keys(&format!("1:{}", base64_of(&[0u8; 32])));
    assert_eq!(
        search(&guessed),
        Vec::<String>::new(),
        "no PIN under a guessed key"
    );
    assert_eq!(search(&keys(K1)), vec![PIN.to_string()]);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The database keeps each key version's check value: a server given another key under a
/// version it knows refuses to start (with it every PIN would read as wrong and count
/// toward the lock); a new key under a new version starts, the PINs still verify.
#[tokio::test]
async fn another_key_under_a_known_version_refuses_to_start() {
    let app = TestApp::spawn_with(|c| c.pin_keys = keys(K1)).await;
    let anna = wallets(&app).await;
    let impostor = K2.replacen("2:", "1:", 1);
    let mut config = app.config();
    config.pin_keys = keys(&impostor);
    let refused = pinpay::startup::Application::build(config, pinpay::clock::Clock::system())
        .await
        .err()
        .expect("a server with another version-1 key does not start");
    let refused = refused.to_string();
    assert!(
        refused.contains("PINPAY_PIN_KEYS") && refused.contains("[1]"),
        "{refused}"
    );

    let mut config = app.config();
    config.pin_keys = keys(&format!("{K2},{K1}"));
    let rotated = pinpay::startup::Application::build(config, pinpay::clock::Clock::system()).await;
    assert!(rotated.is_ok(), "a new version starts");
    drop(rotated);
    send(&app, &anna, PIN).await.ok(201);
    assert_eq!(stored(&app, "anna").2, 0, "no PIN try was counted");
}
