//! The HTML layer: one folder per face, each with its templates beside its handlers
//! (`pay/`: the hosted payment page; `docs/`: the API reference and the problem pages;
//! the wallet app, the merchant dashboard and the operator console join as `app/`,
//! `dashboard/` and `console/`). One more thin layer over the same use cases as the JSON
//! API, with what every face shares here: a strict CSP with a per-response nonce,
//! `frame-ancestors` per merchant, CSRF tokens (`forms`), session cookies, the error pages
//! (`base.html`, `error.html`) and the live streams (`events`, capped by `stream_gate`).

pub mod app;
pub mod docs;
pub mod events;
pub mod forms;

pub mod pay;
pub mod stream_gate;

use crate::domain::i18n::Lang;
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;

pub const HTML: &str = "text/html; charset=utf-8";
pub const CSRF_COOKIE: &str = "pinpay_csrf";
pub const SESSION_COOKIE: &str = "pinpay_pay";
/// The hosted page's login lasts at most this long.
pub const SESSION_SECS: i64 = 15 * 60;

/// A fresh random value for a CSP nonce or a CSRF token.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The security headers of every HTML response: a CSP that admits only this response's
/// nonce'd script and style and nothing from other origins, `frame-ancestors` as the
/// merchant allows (default none), no referrer, no sniffing.
pub fn secure(builder: &mut HttpResponseBuilder, nonce: &str, frame_ancestors: &[String]) {
    let ancestors = if frame_ancestors.is_empty() {
        "'none'".to_string()
    } else {
        frame_ancestors.join(" ")
    };
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
         frame-ancestors {ancestors}"
    );
    builder
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if frame_ancestors.is_empty() {
        builder.insert_header((header::X_FRAME_OPTIONS, "DENY"));
    }
}

/// Renders `page` as an HTML response with the security headers.
pub fn html(
    status: StatusCode,
    page: &impl Template,
    nonce: &str,
    frame_ancestors: &[String],
) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    secure(&mut builder, nonce, frame_ancestors);
    match page.render() {
        Ok(body) => builder.content_type(HTML).body(body),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            builder
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .content_type(HTML)
                .body("<!DOCTYPE html><title>Error</title><p>Something went wrong.</p>")
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub lang: &'a str,
    pub dir: &'a str,
    pub nonce: &'a str,
    pub title: &'a str,
    pub heading: &'a str,
    pub text: &'a str,
    pub back: Option<String>,
}

/// The language asked for by `?lang=` or `Accept-Language`.
pub fn language(req: &HttpRequest) -> Lang {
    let query = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned());
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::pick(query.as_deref(), accept)
}

/// An HTML error page (404, 403, 405, 500…) in the caller's language.
pub fn error_page(
    req: &HttpRequest,
    status: StatusCode,
    heading: &str,
    text: &str,
) -> HttpResponse {
    let lang = language(req);
    let nonce = random_token();
    let page = ErrorPage {
        lang: lang.code(),
        dir: lang.dir(),
        nonce: &nonce,
        title: heading,
        heading,
        text,
        back: None,
    };
    html(status, &page, &nonce, &[])
}

pub fn not_found_page(req: &HttpRequest) -> HttpResponse {
    let t = language(req).t();
    error_page(
        req,
        StatusCode::NOT_FOUND,
        &t.get("not-found-title"),
        &t.get("not-found-text"),
    )
}

/// Whether cookies must be `Secure`: always, unless the public URL is plain http
/// (development on a laptop).
pub fn secure_cookies(public_url: &str) -> bool {
    !public_url.starts_with("http://")
}

/// A cookie of the hosted page: HttpOnly, SameSite=Strict, path `/pay`.
pub fn cookie(name: &str, value: String, max_age: Option<i64>, secure: bool) -> Cookie<'static> {
    face_cookie("/pay", SameSite::Strict, name, value, max_age, secure)
}

/// An HttpOnly cookie of one face (its path), `Secure` unless PinPay runs on plain http.
pub fn face_cookie(
    path: &'static str,
    same_site: SameSite,
    name: &str,
    value: String,
    max_age: Option<i64>,
    secure: bool,
) -> Cookie<'static> {
    let mut c = Cookie::build(name.to_string(), value)
        .path(path)
        .http_only(true)
        .same_site(same_site)
        .secure(secure)
        .finish();
    if let Some(secs) = max_age {
        c.set_max_age(CookieDuration::seconds(secs));
    }
    c
}

/// Whether this HTML path should answer errors as an HTML page.
pub fn is_html_path(path: &str) -> bool {
    (path.starts_with("/pay/") && !path.ends_with("/events"))
        || app::is_page(path)
        || path == "/docs"
        || path == "/problems"
        || path.starts_with("/problems/")
}

/// A fresh passkey challenge for paying request `id` (what the page's script hands to
/// `navigator.credentials.get`), if the wallet has a passkey.
pub async fn passkey_options(
    state: &crate::state::AppState,
    me: &crate::db::models::Account,
    id: &str,
) -> Option<String> {
    let open =
        crate::services::payments::requests::approval::passkey_challenge(state, me, id.to_string());
    passkey_options_for(state, me, open).await
}

/// The options of the challenge `open` makes (a request's, a transfer's, a payout's), as
/// JSON for the page's script, if the wallet has a passkey: most have none, and a read
/// tells without writing a challenge for them.
pub async fn passkey_options_for(
    state: &crate::state::AppState,
    me: &crate::db::models::Account,
    open: impl std::future::Future<
        Output = crate::error::ApiResult<crate::services::identity::passkeys::Ceremony>,
    >,
) -> Option<String> {
    let account_id = me.id;
    let has = state
        .db
        .run(move |c| crate::services::identity::passkeys::has_passkey(c, account_id))
        .await;
    if !has.unwrap_or(true) {
        return None;
    }
    match open.await {
        Ok(ceremony) => serde_json::to_string(&ceremony.public_key).ok(),
        Err(e) if e.code == "no_passkey" => None,
        Err(e) => {
            tracing::warn!(code = e.code, detail = %e.detail, "no passkey challenge for the page");
            None
        }
    }
}
