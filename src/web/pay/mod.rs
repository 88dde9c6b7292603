//! `/pay/{id}`: the hosted payment page and its forms. Each handler reads the form,
//! checks the CSRF token, calls the same service as the JSON API and answers with the
//! page (or a 303 back to it); failures show on the page in the payer's language.

use super::{
    cookie, html, language, not_found_page, random_token, secure_cookies, CSRF_COOKIE,
    SESSION_COOKIE, SESSION_SECS,
};
use crate::auth::jwt::Audience;
use crate::db::models::Account;
use crate::db::DbConn;
use crate::domain::i18n::{self, Lang, Tr};
use crate::domain::money::Money;
use crate::domain::requests::return_target;
use crate::domain::status::RequestStatus;
use crate::error::ApiError;
use crate::services::idempotency::unsealed;
use crate::services::payments::links::{self, PayPage};
use crate::services::payments::requests::approval;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

pub struct SessionView {
    pub heading: String,
    pub balance: String,
    pub can_decline: bool,
    /// The passkey challenge's options (JSON) when the wallet has a passkey.
    pub passkey: Option<String>,
    pub passkey_note: String,
}

#[derive(Template)]
#[template(path = "pay/pay.html")]
pub struct PayView {
    pub lang: &'static str,
    pub dir: &'static str,
    pub nonce: String,
    pub title: String,
    pub t: Tr,
    pub languages: Vec<LangLink>,
    pub id: String,
    pub status: String,
    pub addressed: bool,
    pub merchant: String,
    pub amount: String,
    pub original: Option<String>,
    pub description: Option<String>,
    pub reference: Option<String>,
    pub status_label: String,
    pub pending: bool,
    pub deadline: String,
    pub deadline_iso: String,
    pub deadline_ms: i64,
    pub time_left: String,
    pub result: Option<String>,
    pub redirect: Option<String>,
    pub back_text: String,
    pub error: Option<String>,
    pub waiting: Option<String>,
    pub session: Option<SessionView>,
    pub csrf: String,
    pub pay_button: String,
    pub qr_svg: String,
    pub deep_link: String,
    pub pay_url: String,
    pub can_address: bool,
}

/// `GET /pay/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    page(&state, &req, id.into_inner(), None, StatusCode::OK).await
}

/// The page for request `id` as it stands, with `error` shown, answered with `status`.
async fn page(
    state: &AppState,
    req: &HttpRequest,
    id: String,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let lang = language(req);
    let found = match links::page(state, id).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found_page(req),
        Err(e) => return failure_page(req, &e),
    };
    let session = match session_account(state, req).await {
        Some(a) if a.balance >= 0 => Some(a),
        _ => None,
    };
    let nonce = super::forms::nonce(req).unwrap_or_else(random_token);
    let csrf = super::forms::token(state.config.jwt_secret.expose().as_bytes(), &nonce);
    // Back from "send it to my app" (`sent=1`): say where the request went.
    let sent = req.query_string().split('&').any(|p| p == "sent=1");
    let mut view = view(state, lang, &found, session.as_ref(), error, csrf, sent);
    if let (Some(me), Some(shown)) = (&session, view.session.as_mut()) {
        if view.pending {
            shown.passkey = super::passkey_options(state, me, &view.id).await;
        }
    }
    let mut res = html(status, &view, &view.nonce, &found.frame_ancestors);
    let secure = secure_cookies(&state.config.public_url);
    let _ = res.add_cookie(&cookie(CSRF_COOKIE, nonce, None, secure));
    res
}

fn view(
    state: &AppState,
    lang: Lang,
    p: &PayPage,
    me: Option<&Account>,
    error: Option<String>,
    csrf: String,
    sent: bool,
) -> PayView {
    let t = lang.t();
    let r = &p.request;
    let tz = state.calendar.tz();
    let amount = lang.eur(Money::cents(r.amount));
    let pay_url = format!("{}/pay/{}", state.config.public_url, r.public_id);
    let pending = r.status == RequestStatus::Pending;
    let payer_label = p.payer_name.as_deref().map(|n| format!("@{n}"));
    // The logged-in wallet may pay here if the request is open or addressed to it.
    let session = me
        .filter(|a| r.payer_id.is_none_or(|p| p == a.id))
        .map(|a| SessionView {
            heading: t.with("logged-in-as", &[("user", &format!("@{}", a.username))]),
            balance: lang.eur(Money::cents(a.balance)),
            can_decline: r.payer_id == Some(a.id),
            passkey: None,
            passkey_note: t.with(
                "passkey-note",
                &[("amount", &amount), ("merchant", &p.merchant_name)],
            ),
        });
    let error = error.or_else(|| {
        me.filter(|a| r.payer_id.is_some_and(|p| p != a.id) && pending)
            .map(|_| t.get("err-addressed"))
    });
    let waiting = match (&payer_label, r.kind.as_str()) {
        (Some(user), "link") => Some(t.with("waiting-for", &[("user", user)])),
        (Some(user), _) => Some(t.with("addressed-to", &[("user", user)])),
        (None, _) if sent && pending => Some(t.get("pushed")),
        _ => None,
    };
    let (status_label, result) = match r.status {
        RequestStatus::Approved => (t.get("st-approved"), Some(t.get("res-approved"))),
        RequestStatus::Declined => (t.get("st-declined"), Some(t.get("res-declined"))),
        RequestStatus::Expired => (t.get("st-expired"), Some(t.get("res-expired"))),
        RequestStatus::Cancelled => (t.get("st-cancelled"), Some(t.get("res-cancelled"))),
        RequestStatus::Pending => (t.get("st-pending"), None),
    };
    let redirect = match (&r.return_url, pending) {
        (Some(u), false) => return_target(u, &r.public_id, r.status.as_str()),
        _ => None,
    };
    let deadline = r.expires_at.and_utc();
    let left = (deadline - state.clock.now()).num_seconds().max(0);
    let languages = i18n::ALL
        .iter()
        .map(|l| LangLink {
            code: l.code(),
            name: l.name(),
            href: format!("/pay/{}?lang={}", r.public_id, l.code()),
            current: *l == lang,
        })
        .collect();
    PayView {
        lang: lang.code(),
        dir: lang.dir(),
        nonce: random_token(),
        title: t.with("page-title", &[("merchant", &p.merchant_name)]),
        t,
        languages,
        id: r.public_id.clone(),
        status: r.status.as_str().to_string(),
        addressed: r.payer_id.is_some(),
        merchant: p.merchant_name.clone(),
        original: r
            .original_amount
            .as_deref()
            .zip(r.original_currency.as_deref())
            .map(|(a, c)| lang.money(a, c)),
        description: r.description.clone(),
        reference: r.reference.clone(),
        status_label,
        pending,
        deadline: lang.datetime(deadline, tz),
        deadline_iso: deadline.to_rfc3339(),
        deadline_ms: deadline.timestamp_millis(),
        time_left: format!("{}:{:02}:{:02}", left / 3600, left % 3600 / 60, left % 60),
        result,
        redirect,
        back_text: t.with("back-to-shop", &[("merchant", &p.merchant_name)]),
        error,
        waiting,
        session,
        csrf,
        pay_button: t.with("pay-button", &[("amount", &amount)]),
        qr_svg: qr_svg(&pay_url),
        deep_link: format!("/app/requests/{}", r.public_id),
        pay_url,
        can_address: r.kind == "link" && r.payer_id.is_none(),
        amount,
    }
}

/// The QR code of `url` as inline SVG.
fn qr_svg(url: &str) -> String {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            // Inline in HTML: no XML declaration.
            svg.find("<svg")
                .map_or(svg.clone(), |i| svg[i..].to_string())
        }
        Err(_) => String::new(),
    }
}

/// The account behind a valid page session cookie, if any.
async fn session_account(state: &AppState, req: &HttpRequest) -> Option<Account> {
    let claims = session_claims(state, req)?;
    let id = claims.account_id().ok()?;
    state
        .db
        .run(move |c| {
            if crate::services::identity::sessions::page_session_ended(c, &claims.jti)? {
                return Ok(None);
            }
            Ok(crate::db::accounts::find(c, id)?)
        })
        .await
        .ok()
        .flatten()
}

/// The page session cookie's verified claims, if any.
fn session_claims(state: &AppState, req: &HttpRequest) -> Option<crate::auth::jwt::Claims> {
    let token = req.cookie(SESSION_COOKIE)?;
    state
        .jwt
        .verify(token.value(), &[Audience::PayPage], state.clock.now())
        .ok()
}

/// The form's fields, if it passes the CSRF checks (`web::forms`).
fn checked_form(req: &HttpRequest, body: &[u8]) -> Option<HashMap<String, String>> {
    let state = req.app_data::<web::Data<AppState>>()?;
    super::forms::checked(req, state.config.jwt_secret.expose().as_bytes(), body)
}

fn csrf_refused(req: &HttpRequest) -> HttpResponse {
    let t = language(req).t();
    super::error_page(
        req,
        StatusCode::FORBIDDEN,
        &t.get("error-title"),
        &t.get("err-csrf"),
    )
}

/// Whether `id` could be a request's id at all (`mr_` and letters or digits): anything
/// else is no page (and would not fit a `Location` header).
pub fn plausible_id(id: &str) -> bool {
    id.len() <= 64
        && id
            .strip_prefix("mr_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// 303 back to the page, in the same language.
fn back_to_page(req: &HttpRequest, id: &str) -> HttpResponse {
    if !plausible_id(id) {
        return not_found_page(req);
    }
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/pay/{id}?lang={}", language(req).code()),
        ))
        .finish()
}

/// A failure of a service shown on the page, as the payer understands it.
fn explain(t: Tr, e: &ApiError) -> String {
    match e.code {
        "invalid_credentials" => t.get("err-login"),
        "pin_invalid" => {
            let n = e
                .extensions
                .get("attempts_remaining")
                .map_or("?".to_string(), |v| v.to_string());
            t.with("err-pin", &[("n", &n)])
        }
        "pin_blocked" => t.get("err-pin-blocked"),
        "insufficient_funds" => t.get("err-funds"),
        "limit_exceeded" => t.get("err-limit"),
        "unknown_payer" => t.get("err-unknown-user"),
        "link_already_addressed" => t.get("err-addressed"),
        "too_many_attempts" | "pin_check_busy" => t.get("err-too-many"),
        "invalid_pin_format" => t.get("err-pin-format"),
        "pin_not_set" => t.get("err-pin-not-set"),
        "cannot_pay_own_request" => t.get("err-own-request"),
        "passkey_invalid" | "passkey_challenge_unknown" | "passkey_binding_mismatch" => {
            t.get("err-passkey")
        }
        "device_factor_required" => match e.extensions.get("has_passkey") {
            Some(serde_json::Value::Bool(true)) => t.get("err-passkey"),
            _ => t.get("err-device-required"),
        },
        "validation_failed" => format!("{} {}", t.get("err-other"), e.detail),
        _ => t.get("err-other"),
    }
}

/// The page again with the service's refusal on it. A request that is no longer
/// pending just shows its state.
async fn refused(state: &AppState, req: &HttpRequest, id: String, e: ApiError) -> HttpResponse {
    if e.status.is_server_error() {
        return failure_page(req, &e);
    }
    if e.status == StatusCode::NOT_FOUND {
        return not_found_page(req);
    }
    if matches!(e.code, "request_not_pending" | "request_expired") {
        return back_to_page(req, &id);
    }
    let t = language(req).t();
    let mut res = page(state, req, id, Some(explain(t, &e)), e.status).await;
    if let Some(secs) = e.retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    res
}

fn failure_page(req: &HttpRequest, e: &ApiError) -> HttpResponse {
    let t = language(req).t();
    let mut res = super::error_page(req, e.status, &t.get("error-title"), &t.get("err-other"));
    if let Some(secs) = e.retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    res
}

/// The page session's account, or the page again asking to log in (401).
async fn signed_in(state: &AppState, req: &HttpRequest, id: &str) -> Result<Account, HttpResponse> {
    match session_account(state, req).await {
        Some(me) => Ok(me),
        None => {
            let t = language(req).t();
            let error = Some(t.get("err-session"));
            Err(page(state, req, id.to_string(), error, StatusCode::UNAUTHORIZED).await)
        }
    }
}

/// After a form's service call: back to the page, or the page with the refusal on it.
async fn settled(
    state: &AppState,
    req: &HttpRequest,
    id: String,
    done: Result<(), ApiError>,
) -> HttpResponse {
    match done {
        Ok(()) => back_to_page(req, &id),
        Err(e) => refused(state, req, id, e).await,
    }
}

/// `POST /pay/{id}/login`: username and password, then a 15-minute page session.
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = id.into_inner();
    let Some(form) = checked_form(&req, &body) else {
        return csrf_refused(&req);
    };
    let username = form.get("username").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let client = req.peer_addr().map(|a| a.ip());
    let account = match crate::services::identity::accounts::authenticate(
        &state,
        client,
        username.trim(),
        password,
    )
    .await
    {
        Ok(a) => a,
        Err(e) => return refused(&state, &req, id, e).await,
    };
    let token = match state.jwt.issue(
        Audience::PayPage,
        account.id,
        None,
        state.clock.now(),
        SESSION_SECS,
    ) {
        Ok((token, _)) => token,
        Err(e) => return failure_page(&req, &e),
    };
    let mut res = back_to_page(&req, &id);
    let secure = secure_cookies(&state.config.public_url);
    let _ = res.add_cookie(&cookie(SESSION_COOKIE, token, Some(SESSION_SECS), secure));
    res
}

/// `POST /pay/{id}/approve`: the PIN; pays through the approval service.
pub async fn approve(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = id.into_inner();
    let Some(form) = checked_form(&req, &body) else {
        return csrf_refused(&req);
    };
    let me = match signed_in(&state, &req, &id).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let pin = form.get("pin").cloned().unwrap_or_default();
    // The page's script puts the passkey's assertion here (JSON), when the wallet has one.
    let webauthn = match form.get("webauthn").filter(|v| !v.is_empty()) {
        None => None,
        Some(json) => match serde_json::from_str(json) {
            Ok(assertion) => Some(assertion),
            Err(_) => {
                let e = ApiError::forbidden("passkey_invalid", "unreadable passkey assertion");
                return refused(&state, &req, id, e).await;
            }
        },
    };
    let request = approval::ApproveRequest { pin, webauthn };
    // The page session's account, as the PIN check locks it.
    let session = |_: &mut DbConn, row: Option<Account>| {
        row.ok_or_else(|| ApiError::unauthenticated("The session has ended; sign in again."))
    };
    let done = approval::approve(&state, me.id, session, id.clone(), request, unsealed()).await;
    settled(&state, &req, id, done.map(|_| ())).await
}

/// `POST /pay/{id}/decline`: the addressed payer declines.
pub async fn decline(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = id.into_inner();
    if checked_form(&req, &body).is_none() {
        return csrf_refused(&req);
    }
    let me = match signed_in(&state, &req, &id).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let done = approval::decline(&state, &me, id.clone(), Default::default()).await;
    settled(&state, &req, id, done.map(|_| ())).await
}

/// `POST /pay/{id}/send-to-app`: addresses the open link to the named wallet.
pub async fn send_to_app(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = id.into_inner();
    let Some(form) = checked_form(&req, &body) else {
        return csrf_refused(&req);
    };
    let username = form.get("username").cloned().unwrap_or_default();
    let client = req.peer_addr().map(|a| a.ip());
    match links::push(&state, id.clone(), username, client).await {
        // The same answer for any name: whether a wallet has it stays unsaid.
        Ok(()) => HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/pay/{id}?lang={}&sent=1", language(&req).code()),
            ))
            .finish(),
        Err(e) => refused(&state, &req, id, e).await,
    }
}

/// `GET` on a form's address (`/pay/{id}/login` and the like): 303 to the page.
pub async fn form_address(req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    back_to_page(&req, &id.into_inner())
}

/// `POST /pay/{id}/logout`: ends the page session.
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = id.into_inner();
    if !plausible_id(&id) {
        return not_found_page(&req);
    }
    if checked_form(&req, &body).is_none() {
        return csrf_refused(&req);
    }
    // Ended on the server too: the token is refused even if a copy of the cookie lives on.
    if let Some(claims) = session_claims(&state, &req) {
        let until = chrono::DateTime::from_timestamp(claims.exp, 0)
            .map_or_else(|| state.clock.now_naive(), |t| t.naive_utc());
        if let Err(e) =
            crate::services::identity::sessions::end_page_session(&state, claims.jti, until).await
        {
            return failure_page(&req, &e);
        }
    }
    let mut res = back_to_page(&req, &id);
    let secure = secure_cookies(&state.config.public_url);
    let _ = res.add_cookie(&cookie(SESSION_COOKIE, String::new(), Some(0), secure));
    res
}
