//! The inbox (requests addressed to me, live), a request's confirmation screen with the
//! PIN pad and the passkey, declining with a reason, and the receipt.

use super::{explain, render, see_other, signed_in, Frame, Page};
use crate::db::models::Account;
use crate::db::DbConn;
use crate::domain::i18n::{Lang, Tr};
use crate::domain::money::Money;
use crate::domain::requests::Status;
use crate::error::ApiError;
use crate::services::idempotency::unsealed;
use crate::services::payments::requests::approval::{self, ApproveRequest, DeclineRequest};
use crate::services::payments::requests::view::RequestView;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

/// A request in a list.
pub struct Row {
    pub id: String,
    pub merchant: String,
    pub amount: String,
    pub description: Option<String>,
    pub when: String,
    pub status: String,
    pub status_label: String,
}

#[derive(Template)]
#[template(path = "app/inbox.html")]
pub struct Inbox {
    pub f: Frame,
    pub balance: String,
    pub pending: Vec<Row>,
    pub recent: Vec<Row>,
}

impl Page for Inbox {
    fn frame(&self) -> &Frame {
        &self.f
    }
}

/// The localised label of a request's status.
pub fn status_label(t: Tr, s: Status) -> String {
    t.get(match s {
        Status::Pending => "st-pending",
        Status::Approved => "st-approved",
        Status::Declined => "st-declined",
        Status::Expired => "st-expired",
        Status::Cancelled => "st-cancelled",
    })
}

/// An RFC 3339 time as the language writes it, in PinPay's time zone.
pub fn when(state: &AppState, lang: Lang, rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| lang.datetime(t.with_timezone(&chrono::Utc), state.calendar.tz()))
        .unwrap_or_else(|_| rfc3339.to_string())
}

fn row(state: &AppState, lang: Lang, r: &RequestView) -> Row {
    let t = lang.t();
    let at = if r.status == Status::Pending {
        &r.expires_at
    } else {
        r.resolved_at.as_ref().unwrap_or(&r.created_at)
    };
    Row {
        id: r.id.clone(),
        merchant: r.merchant.clone(),
        amount: lang.eur(r.amount),
        description: r.description.clone(),
        when: when(state, lang, at),
        status: r.status.as_str().to_string(),
        status_label: status_label(t, r.status),
    }
}

/// `GET /app`: balance, requests waiting for me, the latest others.
pub async fn show(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let me = match signed_in(&state, &req).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let lang = super::language(&req);
    let pending = approval::inbox(&state, me.id, Some(Status::Pending), None, 50).await;
    let recent = approval::inbox(&state, me.id, None, None, 20).await;
    let (pending, recent) = match (pending, recent) {
        (Ok((p, _)), Ok((r, _))) => (p, r),
        (Err(e), _) | (_, Err(e)) => return super::failure_page(&req, &e),
    };
    let page = Inbox {
        f: Frame::new(&state, &req, Some(&me), "inbox", "app-tab-inbox"),
        balance: lang.eur(Money::cents(me.balance)),
        pending: pending.iter().map(|r| row(&state, lang, r)).collect(),
        recent: recent
            .iter()
            .filter(|r| r.status != Status::Pending)
            .take(10)
            .map(|r| row(&state, lang, r))
            .collect(),
    };
    render(&state, &req, StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "app/request.html")]
pub struct RequestPage {
    pub f: Frame,
    pub r: Row,
    /// The company's name (else its username), as the payer knows the shop.
    pub merchant_name: String,
    pub reference: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub pending: bool,
    pub can_decline: bool,
    pub attempts: String,
    pub passkey: Option<String>,
    pub passkey_note: String,
    pub pay_button: String,
    pub error: Option<String>,
    /// The receipt's lines, once paid.
    pub paid_at: Option<String>,
    pub balance: String,
    pub decline_reason: Option<String>,
}

impl Page for RequestPage {
    fn frame(&self) -> &Frame {
        &self.f
    }
}

/// `GET /app/requests/{id}`: the confirmation screen, or the receipt once it is paid.
pub async fn request(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let id = id.into_inner();
    // No such page, signed in or not (and no sign-in detour for it).
    if !super::super::pay::plausible_id(&id) {
        return super::super::not_found_page(&req);
    }
    let me = match signed_in(&state, &req).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    request_page(&state, &req, &me, id, None, StatusCode::OK).await
}

async fn request_page(
    state: &AppState,
    req: &HttpRequest,
    me: &Account,
    id: String,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let lang = super::language(req);
    let t = lang.t();
    let view = match approval::get(state, me, id.clone()).await {
        Ok(v) => v,
        Err(e) if e.status == StatusCode::NOT_FOUND => return super::super::not_found_page(req),
        Err(e) => return super::failure_page(req, &e),
    };
    let contact = approval::merchant_contact(state, me.id, id.clone())
        .await
        .unwrap_or_default();
    // The freshest balance and PIN counter (the session's row may be a page old).
    let account_id = me.id;
    let me = match state
        .db
        .run(move |c: &mut DbConn| Ok(crate::db::accounts::find(c, account_id)?))
        .await
    {
        Ok(Some(a)) => a,
        Ok(None) => return super::failure_page(req, &ApiError::internal()),
        Err(e) => return super::failure_page(req, &e),
    };
    let pending = view.status == Status::Pending;
    let amount = lang.eur(view.amount);
    let merchant_name = contact
        .company
        .clone()
        .unwrap_or_else(|| view.merchant.clone());
    // An open link (anyone may pay it) is declined only by a wallet it is addressed to.
    let can_decline = view.payer.as_deref() == Some(me.username.as_str());
    let passkey = if pending {
        super::super::passkey_options(state, &me, &view.id).await
    } else {
        None
    };
    let page = RequestPage {
        f: Frame::new(state, req, Some(&me), "inbox", "app-request-title"),
        merchant_name: merchant_name.clone(),
        reference: view.reference.clone(),
        email: contact.email,
        phone: contact.phone,
        pending,
        can_decline,
        attempts: super::attempts_left(t, &me),
        passkey,
        passkey_note: t.with(
            "passkey-note",
            &[("amount", &amount), ("merchant", &merchant_name)],
        ),
        pay_button: t.with("pay-button", &[("amount", &amount)]),
        error,
        paid_at: (view.status == Status::Approved)
            .then(|| view.resolved_at.as_deref().map(|at| when(state, lang, at)))
            .flatten(),
        balance: lang.eur(Money::cents(me.balance)),
        decline_reason: view
            .decline_reason
            .clone()
            .or(view.decline_reason_code.clone()),
        r: row(state, lang, &view),
    };
    render(state, req, status, &page)
}

/// The page again with the refusal on it; a request no longer pending just shows its state.
async fn refused(
    state: &AppState,
    req: &HttpRequest,
    me: &Account,
    id: String,
    e: ApiError,
) -> HttpResponse {
    if e.status.is_server_error() {
        return super::failure_page(req, &e);
    }
    if e.status == StatusCode::NOT_FOUND {
        return super::super::not_found_page(req);
    }
    let t = super::language(req).t();
    let status = super::refusal_status(&e);
    let mut res = request_page(state, req, me, id, Some(explain(t, &e)), status).await;
    if let Some(secs) = e.retry_after {
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(secs),
        );
    }
    res
}

fn back_to(id: &str) -> HttpResponse {
    if !super::super::pay::plausible_id(id) {
        return see_other("/app");
    }
    see_other(&format!("/app/requests/{id}"))
}

/// `POST /app/requests/{id}/approve`: the PIN (and the passkey's assertion).
pub async fn approve(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = id.into_inner();
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let webauthn = match super::assertion(&form) {
        Ok(a) => a,
        Err(e) => return refused(&state, &req, &me, id, e).await,
    };
    let pin = form.get("pin").cloned().unwrap_or_default();
    let session = |_: &mut DbConn, row: Option<Account>| {
        row.ok_or_else(|| ApiError::unauthenticated("The session has ended; sign in again."))
    };
    let request = ApproveRequest { pin, webauthn };
    match approval::approve(&state, me.id, session, id.clone(), request, unsealed()).await {
        Ok(_) => back_to(&id),
        Err(e) => refused(&state, &req, &me, id, e).await,
    }
}

/// `POST /app/requests/{id}/decline`: with an optional reason.
pub async fn decline(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = id.into_inner();
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let pick = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let decline = DeclineRequest {
        reason_code: pick("reason_code"),
        reason: pick("reason"),
    };
    match approval::decline(&state, &me, id.clone(), decline).await {
        Ok(_) => back_to(&id),
        Err(e) => refused(&state, &req, &me, id, e).await,
    }
}

/// `GET /app/events`: the wallet's live stream for the app's pages (the session cookie
/// instead of a bearer token; the same stream as `/v1/wallet/events`). It lasts at most
/// `STREAM_SECS` and never past the session's idle end; the browser reconnects, and the
/// session is checked again then, so a signed-out session's stream stops within that.
pub async fn events(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    const STREAM_SECS: i64 = 30;
    let session = match req.cookie(super::SESSION_COOKIE) {
        Some(c) => crate::services::identity::web_sessions::peek(&state, c.value()).await,
        None => Ok(None),
    };
    match session {
        Ok(Some((account_id, idle_end))) => {
            let now = state.clock.now();
            let ends = (now.timestamp() + STREAM_SECS).min(idle_end.and_utc().timestamp());
            match super::super::events::wallet_stream(state, &req, account_id, ends) {
                Ok(res) => res,
                Err(e) => actix_web::ResponseError::error_response(&e),
            }
        }
        Ok(None) => actix_web::ResponseError::error_response(&ApiError::unauthenticated(
            "Sign in to the app first.",
        )),
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}

/// `GET` on a request form's address (a reload, a bookmark): back to the request.
pub async fn form_address(req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    if !super::super::pay::plausible_id(&id) {
        return super::super::not_found_page(&req);
    }
    back_to(&id)
}
