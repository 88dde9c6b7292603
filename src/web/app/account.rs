//! Signing in and out of the wallet app, and opening a private wallet from it.

use super::{checked_form, explain, me, next_path, render, see_other, session_cookie, Frame, Page};
use crate::error::ApiError;
use crate::services::identity::accounts::{self, Registration, RegistrationKind};
use crate::services::identity::web_sessions;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "app/sign_in.html")]
pub struct SignIn {
    pub f: Frame,
    pub next: String,
    pub username: String,
    pub error: Option<String>,
    pub ended: bool,
}

impl Page for SignIn {
    fn frame(&self) -> &Frame {
        &self.f
    }
}

#[derive(Template)]
#[template(path = "app/register.html")]
pub struct Register {
    pub f: Frame,
    pub username: String,
    pub email: String,
    pub error: Option<String>,
}

impl Page for Register {
    fn frame(&self) -> &Frame {
        &self.f
    }
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// `GET /app/sign-in`.
pub async fn sign_in_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if me(&state, &req).await.is_some() {
        return see_other(&next_path(query(&req).get("next")));
    }
    let q = query(&req);
    let page = SignIn {
        f: Frame::new(&state, &req, None, "", "app-sign-in"),
        next: next_path(q.get("next")),
        username: String::new(),
        error: None,
        ended: q.contains_key("ended"),
    };
    render(&state, &req, StatusCode::OK, &page)
}

/// `POST /app/sign-in`: username and password (the login throttle applies).
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form = match checked_form(&state, &req, &body) {
        Ok(f) => f,
        Err(res) => return res,
    };
    let username = form
        .get("username")
        .map(|u| u.trim().to_string())
        .unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let next = next_path(form.get("next"));
    let client = req.peer_addr().map(|a| a.ip());
    match web_sessions::sign_in(&state, client, &username, password).await {
        Ok((token, _)) => {
            let mut res = see_other(&next);
            let _ = res.add_cookie(&session_cookie(&state, Some(token)));
            let _ = res.add_cookie(&super::fresh_csrf_cookie(&state));
            res
        }
        Err(e) if e.status.is_server_error() => super::failure_page(&req, &e),
        Err(e) => {
            let page = SignIn {
                f: Frame::new(&state, &req, None, "", "app-sign-in"),
                next,
                username,
                error: Some(explain(super::language(&req).t(), &e)),
                ended: false,
            };
            let mut res = render(&state, &req, super::refusal_status(&e), &page);
            if let Some(secs) = e.retry_after {
                res.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(secs),
                );
            }
            res
        }
    }
}

/// `GET /app/register`.
pub async fn register_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let page = Register {
        f: Frame::new(&state, &req, None, "", "app-register"),
        username: String::new(),
        email: String::new(),
        error: None,
    };
    render(&state, &req, StatusCode::OK, &page)
}

/// `POST /app/register`: opens a private wallet and signs it in.
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form = match checked_form(&state, &req, &body) {
        Ok(f) => f,
        Err(res) => return res,
    };
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let (username, email) = (field("username"), field("email"));
    let password = form.get("password").cloned().unwrap_or_default();
    let refused = |e: ApiError| {
        let page = Register {
            f: Frame::new(&state, &req, None, "", "app-register"),
            username: username.clone(),
            email: email.clone(),
            error: Some(explain(super::language(&req).t(), &e)),
        };
        render(&state, &req, super::refusal_status(&e), &page)
    };
    if form.get("password2").map(String::as_str) != Some(password.as_str()) {
        return refused(ApiError::invalid_field(
            "password2",
            super::language(&req).t().get("app-err-passwords-differ"),
        ));
    }
    let registration = Registration {
        kind: RegistrationKind::Private,
        username: username.clone(),
        password,
        email: email.clone(),
        phone: None,
        company_name: None,
        iban: None,
        bic: None,
    };
    let account = match accounts::register(&state, registration).await {
        Ok(a) => a,
        Err(e) if e.status.is_server_error() => return super::failure_page(&req, &e),
        Err(e) => return refused(e),
    };
    match web_sessions::open(&state, account.id).await {
        Ok(token) => {
            let mut res = see_other("/app/settings?welcome=1");
            let _ = res.add_cookie(&session_cookie(&state, Some(token)));
            let _ = res.add_cookie(&super::fresh_csrf_cookie(&state));
            res
        }
        Err(e) => super::failure_page(&req, &e),
    }
}

/// `POST /app/sign-out`: ends this browser's session.
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = checked_form(&state, &req, &body) {
        return res;
    }
    if let Some(token) = req.cookie(super::SESSION_COOKIE) {
        if let Err(e) = web_sessions::sign_out(&state, token.value()).await {
            return super::failure_page(&req, &e);
        }
    }
    let mut res = see_other("/app/sign-in?ended=1");
    let _ = res.add_cookie(&session_cookie(&state, None));
    let _ = res.add_cookie(&super::fresh_csrf_cookie(&state));
    res
}

/// `POST /app/sign-out-everywhere`: ends every session of the wallet (every browser, and
/// the API's refresh tokens).
pub async fn sign_out_everywhere(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = checked_form(&state, &req, &body) {
        return res;
    }
    let account = match super::signed_in(&state, &req).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    if let Err(e) = web_sessions::sign_out_everywhere(&state, account.id).await {
        return super::failure_page(&req, &e);
    }
    let mut res = see_other("/app/sign-in?ended=1");
    let _ = res.add_cookie(&session_cookie(&state, None));
    let _ = res.add_cookie(&super::fresh_csrf_cookie(&state));
    res
}
