//! The API reference at `/docs` and the problem pages every problem's `type` names.

use crate::browser::Browser;
use crate::helpers::TestApp;
use pinpay::problems::CATALOGUE;
use std::time::Duration;

#[tokio::test]
async fn every_problem_code_has_a_page_and_types_resolve() {
    let app = TestApp::spawn().await;
    for p in CATALOGUE {
        let res = app
            .client
            .get(format!("{}/problems/{}", app.address, p.code))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", p.code);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let page = res.text().await.unwrap();
        assert!(
            page.contains(&format!("<code>{}</code>", p.code)),
            "{}",
            p.code
        );
    }
    let index = app
        .client
        .get(format!("{}/problems", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for p in CATALOGUE {
        assert!(index.contains(&format!("href=\"/problems/{}\"", p.code)));
    }
    let unknown = app
        .client
        .get(format!("{}/problems/no_such_code", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown
        .text()
        .await
        .unwrap()
        .contains("Unknown problem code"));

    // A problem's `type`, resolved against the request URL, is its page.
    let missing = app.get("/v1/money-requests/mr_nothing", None).await;
    let kind = missing.body["type"].as_str().unwrap().to_string();
    assert_eq!(kind, "/problems/unauthenticated");
    let page = app
        .client
        .get(format!("{}{kind}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Unauthenticated"));
}

#[tokio::test]
async fn browser_shows_the_api_reference_from_the_binary() {
    let app = TestApp::spawn().await;
    let bundle = app
        .client
        .get(format!("{}/docs/redoc.standalone.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 500_000);
    let browser = Browser::start(1280).await;
    browser.goto(&format!("{}/docs", app.address)).await;
    // Redoc renders the contract's title and its operations (nothing from another host:
    // the CSP allows only this origin).
    browser
        .wait_text("h1", "PinPay API", Duration::from_secs(20))
        .await;
    browser
        .wait_text(
            "#redoc",
            "Move your sandbox test clock forward",
            Duration::from_secs(10),
        )
        .await;
    browser.screenshot("docs-1280").await;
    browser.goto(&format!("{}/problems", app.address)).await;
    assert!(browser.text("h1").await.contains("Problem codes"));
    browser.screenshot("problems-1280").await;
    browser
        .goto(&format!("{}/problems/limit_exceeded", app.address))
        .await;
    assert_eq!(browser.text("h1").await, "Limit exceeded");
    browser.screenshot("problem-limit-exceeded-1280").await;
    browser.quit().await;

    // And on a phone's width.
    let phone = Browser::start(390).await;
    phone.goto(&format!("{}/docs", app.address)).await;
    phone
        .wait_text("h1", "PinPay API", Duration::from_secs(20))
        .await;
    phone.screenshot("docs-390").await;
    phone.goto(&format!("{}/problems", app.address)).await;
    assert!(phone.text("h1").await.contains("Problem codes"));
    phone.screenshot("problems-390").await;
    phone
        .goto(&format!("{}/problems/limit_exceeded", app.address))
        .await;
    phone.screenshot("problem-limit-exceeded-390").await;
    phone.quit().await;
}
