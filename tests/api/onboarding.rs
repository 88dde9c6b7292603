//! Merchant onboarding: the bank account verified by the 0.02 EUR payout's code, the
//! Corporate+ application with documents (recognised by content, size-capped, private to
//! the merchant and operators), the operator's decisions and the audit log.

use crate::helpers::{document_form, TestApp, ADMIN_TOKEN, PASSWORD, PDF};
use serde_json::{json, Value};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

async fn upload(
    app: &TestApp,
    token: &str,
    kind: &str,
    name: &str,
    content: &[u8],
) -> crate::helpers::Res {
    app.request(
        "POST",
        "/v1/me/upgrade/documents",
        Some(token),
        Some(document_form(kind, name, content)),
    )
    .await
}

fn wrong(code: &str) -> String {
    // Another code of the same alphabet: the first character changed.
    let first = if code.starts_with('A') { 'B' } else { 'A' };
    format!("{first}{}", &code[1..])
}

async fn audit_actions(app: &TestApp) -> Vec<Value> {
    let log = app
        .get("/v1/admin/audit?limit=100", Some(ADMIN_TOKEN))
        .await;
    log.ok(200)["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_merchant_goes_from_registration_to_corporate_plus_through_review() {
    let app = TestApp::spawn().await;
    app.register_merchant("shop").await.ok(201);
    let shop = app.access_token("shop").await;
    app.create_api_token("shop")
        .await
        .problem(403, "api_access_requires_corporate_plus");
    let me = app.get("/v1/me", Some(&shop)).await;
    assert_eq!(me.ok(200)["bank_account_verified"], false);
    app.confirm_email(&shop).await;

    // Verification: three wrong codes void the code; a new payout brings a new one.
    let started = app
        .post("/v1/me/bank-account/verification", Some(&shop), json!({}))
        .await;
    let v = started.ok(201)["verification"].clone();
    assert_eq!(
        (v["status"].as_str(), v["amount"].as_str()),
        (Some("pending"), Some("0.02"))
    );
    let first_code = app.verification_code("shop").await;
    for remaining in [2, 1] {
        let res = app
            .post(
                "/v1/me/bank-account/verify",
                Some(&shop),
                json!({"code": wrong(&first_code)}),
            )
            .await;
        assert_eq!(
            res.problem(422, "verification_code_invalid")["attempts_remaining"],
            remaining
        );
    }
    app.post(
        "/v1/me/bank-account/verify",
        Some(&shop),
        json!({"code": wrong(&first_code)}),
    )
    .await
    .problem(422, "verification_code_voided");
    // The right code no longer helps: it is void.
    app.post(
        "/v1/me/bank-account/verify",
        Some(&shop),
        json!({"code": first_code}),
    )
    .await
    .problem(409, "no_pending_verification");
    app.post("/v1/me/bank-account/verification", Some(&shop), json!({}))
        .await
        .ok(201);
    let code = app.verification_code("shop").await;
    let verified = app
        .post(
            "/v1/me/bank-account/verify",
            Some(&shop),
            json!({"code": code.to_lowercase()}),
        )
        .await;
    assert_eq!(verified.ok(200)["verified"], true);

    // The application: documents, submission, rejection with a reason, again, acceptance.
    let app_id = app
        .post("/v1/me/upgrade", Some(&shop), json!({}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post("/v1/me/upgrade/submit", Some(&shop), json!({}))
        .await
        .problem(422, "documents_required");
    let doc = upload(&app, &shop, "commercial_register", "register.pdf", PDF).await;
    let doc = doc.ok(201).clone();
    assert_eq!(doc["content_type"], "application/pdf");
    assert_eq!(doc["size"], PDF.len());
    let submitted = app
        .post("/v1/me/upgrade/submit", Some(&shop), json!({}))
        .await;
    assert_eq!(submitted.ok(200)["status"], "submitted");
    upload(&app, &shop, "other", "late.pdf", PDF)
        .await
        .problem(409, "application_under_review");

    let queue = app
        .get("/v1/admin/applications?status=submitted", Some(ADMIN_TOKEN))
        .await;
    let queued = queue.ok(200)["data"].as_array().unwrap().clone();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0]["id"].as_str(), queued[0]["merchant"].as_str()),
        (Some(app_id.as_str()), Some("shop"))
    );
    let doc_path = format!(
        "/v1/admin/applications/{app_id}/documents/{}",
        doc["id"].as_str().unwrap()
    );
    let download = app
        .client
        .get(format!("{}{doc_path}", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(download.headers()["content-type"], "application/pdf");
    assert!(download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(download.bytes().await.unwrap().as_ref(), PDF);

    let rejected = app
        .post(
            &format!("/v1/admin/applications/{app_id}/reject"),
            Some(ADMIN_TOKEN),
            json!({"reason": "The commercial register extract is older than 3 months."}),
        )
        .await;
    assert_eq!(rejected.ok(200)["status"], "rejected");
    let me = app.get("/v1/me", Some(&shop)).await;
    let status = me.ok(200)["upgrade_application"].clone();
    assert_eq!(status["status"], "rejected");
    assert_eq!(
        status["rejection_reason"],
        "The commercial register extract is older than 3 months."
    );
    app.post(
        &format!("/v1/admin/applications/{app_id}/accept"),
        Some(ADMIN_TOKEN),
        json!({}),
    )
    .await
    .problem(409, "application_not_submitted");

    upload(&app, &shop, "commercial_register", "register-new.png", PNG)
        .await
        .ok(201);
    app.post("/v1/me/upgrade/submit", Some(&shop), json!({}))
        .await
        .ok(200);
    let accepted = app
        .post(
            &format!("/v1/admin/applications/{app_id}/accept"),
            Some(ADMIN_TOKEN),
            json!({}),
        )
        .await;
    let accepted = accepted.ok(200).clone();
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["documents"].as_array().unwrap().len(), 2);
    let me = app.get("/v1/me", Some(&shop)).await;
    assert_eq!(me.ok(200)["kind"], "corporate_plus");
    assert_eq!(me.ok(200)["upgrade_application"]["status"], "accepted");
    let token = app.create_api_token("shop").await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.get("/v1/money-requests", Some(&token)).await.ok(200);

    // The operator may not upgrade another merchant without an accepted application.
    app.register_merchant("other").await.ok(201);
    app.set_tier("other", "corporate_plus")
        .await
        .problem(409, "upgrade_requires_accepted_application");
    let other = app
        .get("/v1/admin/applications?status=accepted", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(other.ok(200)["data"].as_array().unwrap().len(), 1);

    // The payouts: both verification payouts are listed; executing one blanks its code.
    let payouts = app
        .get("/v1/admin/payouts?status=pending", Some(ADMIN_TOKEN))
        .await;
    let payouts = payouts.ok(200)["data"].as_array().unwrap().clone();
    assert_eq!(payouts.len(), 2);
    assert!(payouts
        .iter()
        .all(|p| p["amount"] == "0.02" && p["purpose"] == "verification"));
    let pid = payouts[0]["id"].as_str().unwrap();
    let executed = app
        .post(
            &format!("/v1/admin/payouts/{pid}/execute"),
            Some(ADMIN_TOKEN),
            json!({}),
        )
        .await;
    let executed = executed.ok(200).clone();
    assert_eq!(executed["status"], "executed");
    assert!(!executed["subject"].as_str().unwrap().contains(&code));
    app.post(
        &format!("/v1/admin/payouts/{pid}/execute"),
        Some(ADMIN_TOKEN),
        json!({}),
    )
    .await
    .problem(409, "payout_already_executed");

    // Every operator action of this test, newest first.
    let actions: Vec<(String, String)> = audit_actions(&app)
        .await
        .iter()
        .map(|e| {
            assert!(e["actor"].as_str().unwrap().starts_with("operator"), "{e}");
            assert!(e["created_at"].is_string());
            (
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let doc_id = doc["id"].as_str().unwrap().to_string();
    assert_eq!(
        actions,
        [
            ("payout.executed".to_string(), pid.to_string()),
            ("application.accepted".into(), app_id.clone()),
            ("application.rejected".into(), app_id.clone()),
            ("document.downloaded".into(), doc_id),
        ]
    );
    assert_eq!(app.ledger_report().await["ok"], true);
}

#[tokio::test]
async fn documents_are_checked_by_content_and_size_and_stay_private() {
    let app = TestApp::spawn().await;
    app.register_merchant("shop").await.ok(201);
    app.register_merchant("rival").await.ok(201);
    let shop = app.access_token("shop").await;
    let rival = app.access_token("rival").await;
    upload(&app, &shop, "other", "a.pdf", PDF)
        .await
        .problem(409, "no_open_application");
    app.post("/v1/me/upgrade", Some(&shop), json!({}))
        .await
        .ok(201);
    // Opening again returns the same application.
    app.post("/v1/me/upgrade", Some(&shop), json!({}))
        .await
        .ok(200);

    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
    upload(&app, &shop, "bank_statement", "statement.pdf", html)
        .await
        .problem(422, "unsupported_document_type");
    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0";
    upload(&app, &shop, "bank_statement", "statement.pdf", elf)
        .await
        .problem(422, "unsupported_document_type");
    let mut big = PDF.to_vec();
    big.resize(11 * 1024 * 1024, b' ');
    upload(&app, &shop, "bank_statement", "big.pdf", &big)
        .await
        .problem(413, "document_too_large");
    upload(&app, &shop, "passport", "id.pdf", PDF)
        .await
        .problem(422, "validation_failed");
    let plain = app
        .post(
            "/v1/me/upgrade/documents",
            Some(&shop),
            json!({"kind": "other"}),
        )
        .await;
    plain.problem(415, "unsupported_media_type");
    let mine = app.get("/v1/me/upgrade", Some(&shop)).await;
    assert_eq!(
        mine.ok(200)["documents"],
        json!([]),
        "nothing refused was stored"
    );

    let doc = upload(&app, &shop, "id_document", "../../id card.pdf", PDF).await;
    let doc = doc.ok(201).clone();
    assert_eq!(doc["filename"], "id card.pdf");
    let path = format!("/v1/me/upgrade/documents/{}", doc["id"].as_str().unwrap());
    let own = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(&shop)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.headers()["x-content-type-options"], "nosniff");
    assert_eq!(own.bytes().await.unwrap().as_ref(), PDF);
    app.get(&path, Some(&rival)).await.problem(404, "not_found");
    app.get(&path, None).await.problem(401, "unauthenticated");
    let anna = app.wallet_user("anna").await;
    app.get(&path, Some(&anna))
        .await
        .problem(403, "merchant_only");
    // Without a verified bank account the application cannot be submitted.
    app.post("/v1/me/upgrade/submit", Some(&shop), json!({}))
        .await
        .problem(409, "bank_account_not_verified");
}

#[tokio::test]
async fn verification_is_limited_expires_and_a_new_iban_starts_over() {
    let app = TestApp::spawn().await;
    app.register_merchant("shop").await.ok(201);
    let shop = app.access_token("shop").await;
    app.deposit("shop", "50.00").await.ok(201);
    app.put(
        "/v1/me/pin",
        Some(&shop),
        json!({"pin": crate::helpers::PIN, "password": PASSWORD}),
    )
    .await
    .ok(204);
    let payout = json!({"amount": "10.00", "pin": crate::helpers::PIN});
    app.post("/v1/payouts", Some(&shop), payout.clone())
        .await
        .problem(409, "bank_account_not_verified");
    app.confirm_email(&shop).await;

    // One payout on its way at a time (each costs real money): another after 5 days.
    app.post("/v1/me/bank-account/verification", Some(&shop), json!({}))
        .await
        .ok(201);
    let again = app
        .post("/v1/me/bank-account/verification", Some(&shop), json!({}))
        .await;
    again.problem(409, "verification_pending");
    app.clock.advance(chrono::Duration::days(5));
    let shop = app.access_token("shop").await;
    app.post("/v1/me/bank-account/verification", Some(&shop), json!({}))
        .await
        .ok(201);

    // A code is good for 14 days.
    app.clock.advance(chrono::Duration::days(15));
    let shop = app.access_token("shop").await;
    let code = app.verification_code("shop").await;
    app.post(
        "/v1/me/bank-account/verify",
        Some(&shop),
        json!({"code": code}),
    )
    .await
    .problem(409, "verification_code_expired");
    app.post(
        "/v1/me/bank-account/verify",
        Some(&shop),
        json!({"code": "12"}),
    )
    .await
    .problem(422, "validation_failed");

    app.post("/v1/me/bank-account/verification", Some(&shop), json!({}))
        .await
        .ok(201);
    let pending = app
        .get(
            "/v1/admin/payouts?status=pending&limit=100",
            Some(ADMIN_TOKEN),
        )
        .await;
    let subjects: Vec<String> = pending.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["subject"].as_str().unwrap().to_string())
        .collect();
    let code = subjects[0].rsplit(' ').next().unwrap().to_string();
    app.post(
        "/v1/me/bank-account/verify",
        Some(&shop),
        json!({"code": code}),
    )
    .await
    .ok(200);
    let paid = app.post("/v1/payouts", Some(&shop), payout.clone()).await;
    paid.ok(201);

    // A new IBAN needs the password and clears the verification.
    let change =
        json!({"iban": "GB82WEST12345698765432", "bic": "WESTGB2L", "password": "wrong password!"});
    app.put("/v1/me/bank-account", Some(&shop), change)
        .await
        .problem(401, "invalid_credentials");
    let change =
        json!({"iban": "GB82 WEST 1234 5698 7654 32", "bic": "WESTGB2L", "password": PASSWORD});
    let changed = app.put("/v1/me/bank-account", Some(&shop), change).await;
    assert_eq!(
        (
            changed.ok(200)["iban"].as_str(),
            changed.ok(200)["verified"].as_bool()
        ),
        (Some("GB82WEST12345698765432"), Some(false))
    );
    app.post("/v1/payouts", Some(&shop), payout)
        .await
        .problem(409, "bank_account_not_verified");
    // A new account may be verified at once; at most 3 payouts a day (one was today).
    // (The account is GB82WEST12345698765432 / WESTGB2L now; one payout went today.)
    for (change, expected) in [
        (None, 201),
        (
            Some(
                json!({"iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "password": PASSWORD}),
            ),
            201,
        ),
        (
            Some(
                json!({"iban": "GB82WEST12345698765432", "bic": "WESTGB2L", "password": PASSWORD}),
            ),
            429,
        ),
    ] {
        if let Some(change) = change {
            app.put("/v1/me/bank-account", Some(&shop), change)
                .await
                .ok(200);
        }
        let asked = app
            .post("/v1/me/bank-account/verification", Some(&shop), json!({}))
            .await;
        assert_eq!(asked.status, expected, "{}", asked.body);
    }
    // Six payouts were booked: five verifications and one withdrawal, all pending.
    let all = app
        .get("/v1/admin/payouts?limit=100", Some(ADMIN_TOKEN))
        .await;
    let all = all.ok(200)["data"].as_array().unwrap().clone();
    assert_eq!(all.len(), 6);
    assert_eq!(all[2]["purpose"], "withdrawal");
    assert_eq!(app.ledger_report().await["ok"], true);
}

/// A Corporate merchant's app session sets its callback URL and reads its delivery log
/// (SPEC: "via API only" means an authenticated call); a private wallet gets a precise 403.
#[tokio::test]
async fn corporate_merchants_set_their_callback_url_and_hear_of_their_upgrade() {
    let app = TestApp::spawn().await;
    app.register_merchant("shop").await.ok(201);
    let shop = app.access_token("shop").await;
    let set = app
        .put(
            "/v1/callback-url",
            Some(&shop),
            json!({"url": "https://shop.example/hooks"}),
        )
        .await;
    assert!(set.ok(200)["webhook_secret"].is_string());
    app.get("/v1/callbacks", Some(&shop)).await.ok(200);
    let anna = app.wallet_user("anna").await;
    app.put(
        "/v1/callback-url",
        Some(&anna),
        json!({"url": "https://x.example/h"}),
    )
    .await
    .problem(403, "merchant_only");

    app.onboard("shop").await;
    let log = app.get("/v1/callbacks", Some(&shop)).await;
    let events: Vec<&str> = log.ok(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["account.tier_changed"]);
}

/// A PDF of `mib` MiB whose bytes differ along the way (so the stored chunks must come
/// back in order for the digest to match).
fn big_pdf(mib: usize) -> Vec<u8> {
    let mut big = PDF.to_vec();
    let mut i = 0u32;
    while big.len() < mib * 1024 * 1024 {
        big.extend_from_slice(format!("% filler line {i}\n").as_bytes());
        i += 1;
    }
    big.truncate(mib * 1024 * 1024);
    big
}

async fn documents_of(app: &TestApp, token: &str) -> Vec<Value> {
    let mine = app.get("/v1/me/upgrade", Some(token)).await;
    mine.ok(200)["documents"].as_array().unwrap().clone()
}

/// Uploads stream into the database in chunks and come back byte for byte; a merchant
/// whose bank account is not verified yet has a small daily quota (5 documents, 20 MiB),
/// which a verified one outgrows; a refused or broken-off upload keeps nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_stored_in_chunks_within_a_daily_quota_and_broken_ones_leave_nothing() {
    let app = TestApp::spawn().await;
    let shop = merchant_with_application(&app, "shop").await;

    // A file shorter than the bytes that tell its type (15 bytes): stored whole (the
    // upload's end is not read twice).
    let tiny = b"%PDF-1.4\n%%EOF\n";
    let doc = upload(&app, &shop, "other", "tiny.pdf", tiny).await;
    assert_eq!(doc.ok(201)["size"], tiny.len());
    // 9 MiB: many chunks, the same bytes back.
    let nine = big_pdf(9);
    let doc = upload(&app, &shop, "bank_statement", "nine.pdf", &nine).await;
    let doc = doc.ok(201).clone();
    use sha2::Digest;
    assert_eq!(doc["sha256"], hex::encode(sha2::Sha256::digest(&nine)));
    assert_eq!(doc["size"], nine.len());
    let path = format!("/v1/me/upgrade/documents/{}", doc["id"].as_str().unwrap());
    let back = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(&shop)
        .send()
        .await
        .unwrap();
    assert!(back.bytes().await.unwrap().as_ref() == nine.as_slice());

    // A second 9 MiB fits the unverified 20 MiB; a 3 MiB third would pass it: refused
    // part-way, and nothing of it stays.
    upload(&app, &shop, "bank_statement", "nine-b.pdf", &nine)
        .await
        .ok(201);
    let refused = upload(&app, &shop, "other", "three.pdf", &big_pdf(3)).await;
    let problem = refused.problem(429, "document_quota_exceeded");
    assert_eq!(documents_of(&app, &shop).await.len(), 3, "{problem}");

    // A broken-off upload (the connection closes part-way) keeps nothing either.
    let other = merchant_with_application(&app, "other").await;
    {
        use tokio::io::AsyncWriteExt;
        let crate::helpers::RawBody::Bytes(content_type, body) =
            document_form("other", "cut.pdf", &big_pdf(2))
        else {
            unreachable!()
        };
        let mut s = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
            .await
            .unwrap();
        let head = format!(
            "POST /v1/me/upgrade/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {other}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&body[..body.len() / 2]).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(documents_of(&app, &other).await.len(), 0);
    // Five small documents are the unverified day's count; the sixth waits.
    for i in 0..5 {
        upload(&app, &other, "other", &format!("d{i}.pdf"), PDF)
            .await
            .ok(201);
    }
    let sixth = upload(&app, &other, "other", "d6.pdf", PDF).await;
    let problem = sixth.problem(429, "document_quota_exceeded").clone();
    assert_eq!(problem["bank_account_verified"], false);
    assert_eq!(problem["max_documents"], 5);

    // Verified, the merchant gets the larger quota at once.
    app.verify_bank_account("other").await;
    upload(&app, &other, "other", "d6.pdf", PDF).await.ok(201);
    assert_eq!(documents_of(&app, &other).await.len(), 6);
    // A day later the window has moved on for the first merchant too.
    app.clock.advance(chrono::Duration::hours(25));
    let shop = app.access_token("shop").await;
    upload(&app, &shop, "other", "three.pdf", &big_pdf(3))
        .await
        .ok(201);
}

/// Sends an upload's head and then `body` in pieces of `piece` bytes every `every`;
/// returns the server's answer (its first bytes) and how long it took to come.
async fn raw_upload(
    app: &TestApp,
    token: &str,
    body: Vec<u8>,
    piece: usize,
    every: std::time::Duration,
) -> (String, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/me/upgrade/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XB\r\nContent-Length: {}\r\n\r\n",
        body.len() + 10_000_000
    );
    let started = std::time::Instant::now();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    for part in body.chunks(piece) {
        if s.write_all(part).await.is_err() {
            break;
        }
        match tokio::time::timeout(every, s.read(&mut answer)).await {
            Ok(Ok(n)) if n > 0 => {
                return (
                    String::from_utf8_lossy(&answer[..n]).into(),
                    started.elapsed(),
                )
            }
            Ok(_) => return (String::new(), started.elapsed()),
            Err(_) => {}
        }
    }
    let n = tokio::time::timeout(std::time::Duration::from_secs(30), s.read(&mut answer))
        .await
        .map_or(0, |r| r.unwrap_or(0));
    (
        String::from_utf8_lossy(&answer[..n]).into(),
        started.elapsed(),
    )
}

/// An upload whose part header never ends is cut off at 8 KiB (the multipart parser would
/// buffer it without end), and one that pauses past the body deadline is answered 408;
/// neither stores anything, and the server keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_part_header_or_a_stalled_upload_is_cut_off() {
    let app = TestApp::spawn_with(|c| c.body_timeout_ms = 1000).await;
    let shop = merchant_with_application(&app, "shop").await;
    let mut endless = b"--XB\r\nContent-Disposition: form-data; name=\"kind\"\r\nX-Pad: ".to_vec();
    endless.extend(std::iter::repeat_n(b'A', 2 * 1024 * 1024));
    let (answer, took) = raw_upload(
        &app,
        &shop,
        endless,
        16 * 1024,
        std::time::Duration::from_millis(20),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("longer than 8 KiB"), "{answer}");
    eprintln!("an endless part header was answered after {took:?}");
    assert_eq!(app.get("/health", None).await.status, 200);

    // A stalled upload: the header and a first piece, then nothing.
    let mut stalled =
        b"--XB\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nother\r\n--XB\r\n\
        Content-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF-1.4\n"
            .to_vec();
    stalled.extend(std::iter::repeat_n(b' ', 100));
    let (answer, _) = raw_upload(
        &app,
        &shop,
        stalled,
        1 << 20,
        std::time::Duration::from_millis(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert_eq!(documents_of(&app, &shop).await.len(), 0, "nothing stored");
}

/// Uploads started together cannot each claim the same remaining quota: an upload under
/// way counts as the largest document it may become (five 9 MiB uploads at once from an
/// unverified merchant store at most 20 MiB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_stay_within_the_daily_quota() {
    let app = TestApp::spawn().await;
    let shop = merchant_with_application(&app, "shop").await;
    let nine = big_pdf(9);
    let uploads = (0..5).map(|i| {
        let (app, shop, nine) = (&app, shop.clone(), nine.clone());
        async move { upload(app, &shop, "other", &format!("n{i}.pdf"), &nine).await }
    });
    let answers = futures::future::join_all(uploads).await;
    let stored = answers.iter().filter(|r| r.status == 201).count();
    assert!(answers.iter().all(|r| r.status == 201 || r.status == 429));
    let bytes: i64 = documents_of(&app, &shop)
        .await
        .iter()
        .map(|d| d["size"].as_i64().unwrap())
        .sum();
    eprintln!("{stored} of 5 concurrent 9 MiB uploads stored, {bytes} bytes");
    assert!(
        stored >= 1 && bytes <= 20 * 1024 * 1024,
        "{stored} stored, {bytes} bytes"
    );
}

/// A registered Corporate merchant with an open Corporate+ application; its app token.
async fn merchant_with_application(app: &TestApp, username: &str) -> String {
    app.register_merchant(username).await.ok(201);
    let token = app.access_token(username).await;
    app.post("/v1/me/upgrade", Some(&token), json!({}))
        .await
        .ok(201);
    token
}

/// The mailed confirmation code in the newest e-mail to the merchant.
async fn mailed_code(app: &TestApp, username: &str) -> String {
    crate::smtp::confirmation_code(&app.mailbox, &app.merchant_email(username)).await
}

/// A verification payout costs real money: PinPay books one only for a merchant whose
/// e-mail address is confirmed by the code mailed to it. Nothing is booked before.
#[tokio::test]
async fn a_verification_payout_waits_for_the_confirmed_e_mail_address() {
    let app = TestApp::spawn().await;
    app.register_merchant("shop").await.ok(201);
    let shop = app.access_token("shop").await;
    let me = app.get("/v1/me", Some(&shop)).await;
    assert_eq!(me.ok(200)["email_confirmed"], false);
    app.post("/v1/me/bank-account/verification", Some(&shop), json!({}))
        .await
        .problem(409, "email_not_confirmed");
    let payouts = app
        .get("/v1/admin/payouts?limit=100", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(payouts.ok(200)["data"], json!([]), "no payout was booked");
    app.post(
        "/v1/me/email/confirm",
        Some(&shop),
        json!({"code": "ABC234"}),
    )
    .await
    .problem(409, "no_confirmation_code");

    // The code goes to the registered address; a wrong code counts, the right one confirms.
    let sent = app
        .post("/v1/me/email/confirmation", Some(&shop), json!({}))
        .await;
    let sent = sent.ok(202);
    assert_eq!(
        sent["email"].as_str(),
        Some(app.merchant_email("shop").as_str())
    );
    assert_eq!(sent["confirmed"], false);
    assert!(sent["code_expires_at"].is_string(), "{sent}");
    let code = mailed_code(&app, "shop").await;
    let res = app
        .post(
            "/v1/me/email/confirm",
            Some(&shop),
            json!({"code": wrong(&code)}),
        )
        .await;
    assert_eq!(
        res.problem(422, "confirmation_code_invalid")["attempts_remaining"],
        2
    );
    let typed = format!("{}-{}", &code[..3], &code[3..]).to_lowercase();
    let confirmed = app
        .post("/v1/me/email/confirm", Some(&shop), json!({"code": typed}))
        .await;
    assert_eq!(confirmed.ok(200)["confirmed"], true);
    assert!(confirmed.ok(200)["confirmed_at"].is_string());
    app.post("/v1/me/email/confirm", Some(&shop), json!({"code": code}))
        .await
        .problem(409, "email_already_confirmed");
    app.post("/v1/me/email/confirmation", Some(&shop), json!({}))
        .await
        .problem(409, "email_already_confirmed");
    let me = app.get("/v1/me", Some(&shop)).await;
    assert_eq!(me.ok(200)["email_confirmed"], true);
    app.post("/v1/me/bank-account/verification", Some(&shop), json!({}))
        .await
        .ok(201);
}

/// A new code voids the last, three wrong codes void one, and at most five codes a day
/// are mailed (429 with `Retry-After`).
#[tokio::test]
async fn confirmation_codes_are_single_use_few_and_limited() {
    let app = TestApp::spawn().await;
    app.register_merchant("shop").await.ok(201);
    let shop = app.access_token("shop").await;
    let send = || app.post("/v1/me/email/confirmation", Some(&shop), json!({}));
    let confirm =
        |code: String| app.post("/v1/me/email/confirm", Some(&shop), json!({"code": code}));

    send().await.ok(202);
    let first = mailed_code(&app, "shop").await;
    send().await.ok(202);
    let mut second = mailed_code(&app, "shop").await;
    while second == first {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        second = mailed_code(&app, "shop").await;
    }
    confirm(first.clone())
        .await
        .problem(422, "confirmation_code_invalid");
    for _ in 0..2 {
        confirm(wrong(&second)).await;
    }
    confirm(second.clone())
        .await
        .problem(409, "no_confirmation_code");
    for _ in 0..3 {
        send().await.ok(202);
    }
    let limited = app
        .client
        .post(format!("{}/v1/me/email/confirmation", app.address))
        .bearer_auth(&shop)
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry_after), "{retry_after}");
    let problem: Value = limited.json().await.unwrap();
    assert_eq!(problem["code"], "confirmation_limit_reached", "{problem}");
    let me = app.get("/v1/me", Some(&shop)).await;
    assert_eq!(me.ok(200)["email_confirmed"], false);
    confirm("12".into()).await.problem(422, "validation_failed");
}
