//! `/app`: the wallet app, an installable web app for payers. Thin pages over the same
//! use cases as the JSON API, in the pattern every face follows: a `Frame` (language,
//! CSP nonce, CSRF token, who is signed in) around each page's own fields, forms checked
//! by `web::forms`, a session cookie (`pinpay_app`, HttpOnly, SameSite=Lax, path `/app`)
//! backed by `web_sessions`, and refusals shown on the page in the payer's language.

// A page handler's early answer is an `HttpResponse` (the refusal page, a redirect):
// returned by value as the `Err` of the checks, like the handlers return it.
#![allow(clippy::result_large_err)]

pub mod account;
pub mod inbox;
pub mod money;
pub mod pwa;
pub mod settings;
pub mod withdraw;

use super::{face_cookie, forms, html, random_token, secure_cookies, CSRF_COOKIE};
use crate::db::models::Account;
use crate::domain::i18n::{self, Lang, Tr};
use crate::error::ApiError;
use crate::services::identity::web_sessions;
use crate::state::AppState;
use actix_web::cookie::SameSite;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

pub const PATH: &str = "/app";
pub const SESSION_COOKIE: &str = "pinpay_app";
/// The language chosen in the app (`?lang=` once, then remembered).
pub const LANG_COOKIE: &str = "pinpay_lang";

/// Whether `path` is one of the app's HTML pages (errors there answer as pages).
pub fn is_page(path: &str) -> bool {
    (path == PATH || path.starts_with("/app/"))
        && !matches!(
            path,
            "/app/events" | "/app/sw.js" | "/app/manifest.webmanifest"
        )
}

/// The language: `?lang=`, then the remembered choice, then `Accept-Language`.
pub fn language(req: &HttpRequest) -> Lang {
    let query = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::from_code(&v));
    let remembered = req
        .cookie(LANG_COOKIE)
        .and_then(|c| Lang::from_code(c.value()));
    query.or(remembered).unwrap_or_else(|| super::language(req))
}

pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

/// What every app page shows around its own content.
pub struct Frame {
    pub lang: &'static str,
    pub dir: &'static str,
    pub nonce: String,
    pub title: String,
    pub t: Tr,
    pub csrf: String,
    /// The signed-in username, if any.
    pub user: Option<String>,
    /// Which tab is current: `inbox`, `money`, `send`, `settings` or none.
    pub tab: &'static str,
    pub languages: Vec<LangLink>,
    /// The CSRF nonce the response sets as its cookie.
    csrf_nonce: String,
}

impl Frame {
    pub fn new(
        state: &AppState,
        req: &HttpRequest,
        me: Option<&Account>,
        tab: &'static str,
        title: &str,
    ) -> Self {
        let lang = language(req);
        let t = lang.t();
        let csrf_nonce = forms::nonce(req).unwrap_or_else(random_token);
        let here = req.path().to_string();
        Frame {
            lang: lang.code(),
            dir: lang.dir(),
            nonce: random_token(),
            title: format!("{} · PinPay", t.get(title)),
            t,
            csrf: forms::token(state.config.jwt_secret.expose().as_bytes(), &csrf_nonce),
            user: me.map(|a| a.username.clone()),
            tab,
            languages: i18n::ALL
                .iter()
                .map(|l| LangLink {
                    code: l.code(),
                    name: l.name(),
                    href: format!("{here}?lang={}", l.code()),
                    current: *l == lang,
                })
                .collect(),
            csrf_nonce,
        }
    }
}

/// Something that renders inside a `Frame`.
pub trait Page: Template {
    fn frame(&self) -> &Frame;
}

/// The page as an HTML response with the security headers, the CSRF cookie and the
/// remembered language.
pub fn render(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    page: &impl Page,
) -> HttpResponse {
    let f = page.frame();
    let mut res = html(status, page, &f.nonce, &[]);
    // The app's own manifest and service worker, and nothing else, on top of the CSP
    // every page has.
    let csp = res
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|v| format!("{v}; manifest-src 'self'; worker-src 'self'"));
    if let Some(v) = csp.and_then(|v| header::HeaderValue::from_str(&v).ok()) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    let secure = secure_cookies(&state.config.public_url);
    let csrf = face_cookie(
        PATH,
        SameSite::Strict,
        CSRF_COOKIE,
        f.csrf_nonce.clone(),
        None,
        secure,
    );
    let _ = res.add_cookie(&csrf);
    remember_language(state, req, &mut res);
    res
}

/// A language chosen with `?lang=` is remembered for the app's next pages (a year).
fn remember_language(state: &AppState, req: &HttpRequest, res: &mut HttpResponse) {
    let chosen = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::from_code(&v));
    if let Some(lang) = chosen {
        let secure = secure_cookies(&state.config.public_url);
        let mut c = face_cookie(
            PATH,
            SameSite::Lax,
            LANG_COOKIE,
            lang.code().into(),
            None,
            secure,
        );
        c.set_max_age(actix_web::cookie::time::Duration::days(365));
        let _ = res.add_cookie(&c);
    }
}

/// The signed-in account, if the session cookie names a live session.
pub async fn me(state: &AppState, req: &HttpRequest) -> Option<Account> {
    let token = req.cookie(SESSION_COOKIE)?;
    web_sessions::resume(state, token.value())
        .await
        .ok()
        .flatten()
}

/// The signed-in account, or a 303 to the sign-in page that comes back here after.
pub async fn signed_in(state: &AppState, req: &HttpRequest) -> Result<Account, HttpResponse> {
    match me(state, req).await {
        Some(a) => Ok(a),
        None => {
            let next =
                url::form_urlencoded::byte_serialize(req.path().as_bytes()).collect::<String>();
            let mut res = see_other(&format!("/app/sign-in?next={next}"));
            remember_language(state, req, &mut res);
            Err(res)
        }
    }
}

/// A fresh CSRF cookie: set when a session begins or ends, so a token learnt before
/// (or planted with a cookie) does not carry over into the new session.
pub fn fresh_csrf_cookie(state: &AppState) -> actix_web::cookie::Cookie<'static> {
    let secure = secure_cookies(&state.config.public_url);
    face_cookie(
        PATH,
        SameSite::Strict,
        CSRF_COOKIE,
        random_token(),
        None,
        secure,
    )
}

/// The session cookie carrying `token` (or clearing it).
pub fn session_cookie(
    state: &AppState,
    token: Option<String>,
) -> actix_web::cookie::Cookie<'static> {
    let secure = secure_cookies(&state.config.public_url);
    match token {
        Some(t) => face_cookie(PATH, SameSite::Lax, SESSION_COOKIE, t, None, secure),
        None => face_cookie(
            PATH,
            SameSite::Lax,
            SESSION_COOKIE,
            String::new(),
            Some(0),
            secure,
        ),
    }
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

/// A local path to go to after signing in: only `/app…` paths of this site.
pub fn next_path(raw: Option<&String>) -> String {
    raw.filter(|p| {
        (p.as_str() == PATH || p.starts_with("/app/"))
            && !p.contains("//")
            && !p.contains("..")
            && !p.contains('\\')
            && p.bytes().all(|b| b.is_ascii_graphic())
    })
    .cloned()
    .unwrap_or_else(|| PATH.to_string())
}

/// The form's fields, if it passes the CSRF checks; else the refusal page.
pub fn checked_form(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<HashMap<String, String>, HttpResponse> {
    forms::checked(req, state.config.jwt_secret.expose().as_bytes(), body).ok_or_else(|| {
        let t = language(req).t();
        super::error_page(
            req,
            StatusCode::FORBIDDEN,
            &t.get("error-title"),
            &t.get("err-csrf"),
        )
    })
}

/// A posted form's fields (CSRF checked) and the signed-in wallet, or the response that
/// refuses them: how every form handler of the app begins.
pub async fn posted(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(HashMap<String, String>, Account), HttpResponse> {
    let form = checked_form(state, req, body)?;
    let me = signed_in(state, req).await?;
    Ok((form, me))
}

/// "Attempts left before your PIN is blocked: n", under every PIN field.
pub fn attempts_left(t: Tr, me: &Account) -> String {
    let left = (crate::domain::pin_attempts::MAX_ATTEMPTS - me.pin_failed_attempts).max(0);
    t.with("app-attempts-left", &[("n", &left.to_string())])
}

/// A failure of a service as the payer reads it.
pub fn explain(t: Tr, e: &ApiError) -> String {
    let remaining = |key: &str| {
        e.extensions.get(key).map_or("?".to_string(), |v| {
            v.to_string().trim_matches('"').to_string()
        })
    };
    match e.code {
        "invalid_credentials" => t.get("err-login"),
        "pin_invalid" => t.with("err-pin", &[("n", &remaining("attempts_remaining"))]),
        "pin_blocked" => t.get("err-pin-blocked"),
        "insufficient_funds" => t.get("err-funds"),
        "limit_exceeded" => t.get("err-limit"),
        "too_many_attempts" | "pin_check_busy" => t.get("err-too-many"),
        "invalid_pin_format" => t.get("err-pin-format"),
        "pin_not_set" => t.get("app-err-pin-not-set"),
        "unknown_recipient" => t.get("err-unknown-user"),
        "passkey_invalid" | "passkey_challenge_unknown" | "passkey_binding_mismatch" => {
            t.get("err-passkey")
        }
        "device_factor_required" => match e.extensions.get("has_passkey") {
            Some(serde_json::Value::Bool(true)) => t.get("err-passkey"),
            _ => t.get("app-err-device-required"),
        },
        "username_taken" => t.get("app-err-username-taken"),
        "reload_pending" => t.get("app-err-reload-pending"),
        "no_bank_account" => t.get("app-err-no-bank-account"),
        "request_not_pending" | "request_expired" => t.get("app-err-not-pending"),
        _ if e.status.is_client_error() && !e.detail.is_empty() => {
            format!("{} {}", t.get("app-err-refused"), e.detail)
        }
        _ => t.get("err-other"),
    }
}

/// A server failure as an error page (with `Retry-After` when the service gave one).
pub fn failure_page(req: &HttpRequest, e: &ApiError) -> HttpResponse {
    let t = language(req).t();
    let mut res = super::error_page(req, e.status, &t.get("error-title"), &t.get("err-other"));
    if let Some(secs) = e.retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    res
}

/// The status a page with a refusal on it answers with.
pub fn refusal_status(e: &ApiError) -> StatusCode {
    if e.status.is_client_error() {
        e.status
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// The passkey assertion a form's script put in `webauthn`, if any (`Err` if unreadable).
pub fn assertion(
    form: &HashMap<String, String>,
) -> Result<Option<webauthn_rs::prelude::PublicKeyCredential>, ApiError> {
    match form.get("webauthn").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(json) => serde_json::from_str(json)
            .map(Some)
            .map_err(|_| ApiError::forbidden("passkey_invalid", "unreadable passkey assertion")),
    }
}

/// `GET /app`: the inbox when signed in, else the sign-in page.
pub async fn home(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    inbox::show(state, req).await
}
