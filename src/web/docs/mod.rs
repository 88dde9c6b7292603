//! The browsable API reference (`/docs`, Redoc embedded in the binary, nothing from a
//! CDN) and the problem catalogue pages (`/problems`, `/problems/{code}`), the targets of
//! every problem's `type`.

use super::{html, random_token, HTML};
use crate::problems::{self, Problem};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// The pinned Redoc release (see `scripts/update-redoc`): version and bundle.
const REDOC_VERSION: &str = include_str!("../../../assets/redoc/VERSION");
const REDOC: &[u8] = include_bytes!("../../../assets/redoc/redoc.standalone.js");

#[derive(Template)]
#[template(path = "docs/docs.html")]
struct DocsPage<'a> {
    nonce: &'a str,
    version: &'a str,
}

#[derive(Template)]
#[template(path = "docs/problems.html")]
struct ProblemsPage<'a> {
    lang: &'a str,
    dir: &'a str,
    nonce: &'a str,
    title: &'a str,
    one: Option<&'a Problem>,
    /// `one`'s text as HTML: escaped, with `code` spans set as code.
    text: String,
    all: &'a [Problem],
}

/// `GET /docs`. Redoc styles itself inline and searches in a worker, which its CSP
/// allows on this page alone.
pub async fn docs() -> HttpResponse {
    let nonce = random_token();
    let version = REDOC_VERSION.split_whitespace().next().unwrap_or("");
    let page = DocsPage {
        nonce: &nonce,
        version,
    };
    let csp = format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; \
         form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    );
    match page.render() {
        Ok(body) => HttpResponse::Ok()
            .insert_header((header::CONTENT_SECURITY_POLICY, csp))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .content_type(HTML)
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "rendering the docs page failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// `GET /docs/redoc.standalone.js`: the embedded bundle.
pub async fn redoc() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(REDOC)
}

/// `GET /problems`: every code.
pub async fn problems() -> HttpResponse {
    page(StatusCode::OK, "Problem codes", None)
}

/// `GET /problems/{code}`: one code; an unknown code is a 404 page.
pub async fn problem(req: HttpRequest, code: web::Path<String>) -> HttpResponse {
    match problems::find(&code) {
        Some(p) => page(StatusCode::OK, p.title, Some(p)),
        None => super::error_page(
            &req,
            StatusCode::NOT_FOUND,
            "Unknown problem code",
            "PinPay has no problem with this code. The list of codes is at /problems.",
        ),
    }
}

fn page(status: StatusCode, title: &str, one: Option<&Problem>) -> HttpResponse {
    let nonce = random_token();
    let page = ProblemsPage {
        lang: "en",
        dir: "ltr",
        nonce: &nonce,
        title,
        one,
        text: one.map(|p| with_code_spans(p.text)).unwrap_or_default(),
        all: problems::CATALOGUE,
    };
    html(status, &page, &nonce, &[])
}

/// Escapes `text` for HTML and sets its backtick spans as `<code>`.
fn with_code_spans(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    escaped
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn code_spans_are_set_and_markup_is_escaped() {
        assert_eq!(
            super::with_code_spans("use `a<b>` & \"c\""),
            "use <code>a&lt;b&gt;</code> &amp; &quot;c&quot;"
        );
    }
}
