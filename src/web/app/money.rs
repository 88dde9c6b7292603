//! Money in the wallet app: the balance and a month's statement lines with the running
//! balance (filtered by kind), the month's PDF/CSV/XLSX, topping up through the reload
//! providers, and sending money to a username with the fee shown before the PIN.

use super::{explain, render, see_other, signed_in, Frame, Page};
use crate::db::models::Account;
use crate::domain::calendar::Month;
use crate::domain::i18n::Lang;
use crate::domain::money::Money;
use crate::routes::statements::{statement_file, Format};
use crate::services::idempotency::unsealed;
use crate::services::wallet::reload_providers::Provider;
use crate::services::wallet::{reloads, statements, transfers};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

pub struct LineRow {
    pub when: String,
    pub what: String,
    pub counterparty: Option<String>,
    pub amount: String,
    pub credit: bool,
    pub balance: String,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "app/money.html")]
pub struct MoneyPage {
    pub f: Frame,
    pub balance: String,
    pub month: String,
    pub months: Vec<Choice>,
    pub kinds: Vec<Choice>,
    pub opening: String,
    pub closing: String,
    pub lines: Vec<LineRow>,
    pub notice: Option<String>,
}

impl Page for MoneyPage {
    fn frame(&self) -> &Frame {
        &self.f
    }
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// The last twelve months, newest first.
fn months(this: Month) -> Vec<Month> {
    std::iter::successors(Some(this), |m| {
        Some(if m.month == 1 {
            Month {
                year: m.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: m.year,
                month: m.month - 1,
            }
        })
    })
    .take(12)
    .collect()
}

fn month_label(lang: Lang, m: Month) -> String {
    format!("{} {}", lang.t().get(&format!("month-{}", m.month)), m.year)
}

const KINDS: [&str; 6] = ["payment", "transfer", "deposit", "refund", "fee", "payout"];

/// `GET /app/money?month=YYYY-MM&kind=…`.
pub async fn show(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let me = match signed_in(&state, &req).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let lang = super::language(&req);
    let t = lang.t();
    let q = query(&req);
    let this_month = state.calendar.month_of(state.clock.now());
    let month = q
        .get("month")
        .and_then(|m| Month::parse(m))
        .unwrap_or(this_month);
    let kind = q
        .get("kind")
        .filter(|k| KINDS.contains(&k.as_str()))
        .cloned();
    let s = match statements::statement(&state, &me, month).await {
        Ok(s) => s,
        Err(e) if e.status.is_client_error() => {
            return see_other("/app/money");
        }
        Err(e) => return super::failure_page(&req, &e),
    };
    let cal = &state.calendar;
    let lines = s
        .lines
        .iter()
        .rev()
        .filter(|l| kind.as_deref().is_none_or(|k| l.kind == k))
        .map(|l| LineRow {
            when: lang.datetime(l.booked_at.and_utc(), cal.tz()),
            what: crate::documents::statement::describe(l),
            // A payment's shop, a transfer's other wallet; a top-up's or a fee's
            // counterparty is one of PinPay's own books, not someone to show.
            counterparty: l
                .counterparty
                .clone()
                .filter(|_| matches!(l.kind.as_str(), "payment" | "transfer" | "refund")),
            amount: lang.eur(l.amount),
            credit: l.amount > Money::ZERO,
            balance: lang.eur(l.balance),
        })
        .collect();
    let notice = if q.contains_key("sent") {
        Some(t.get("app-sent"))
    } else if q.contains_key("topped") {
        Some(t.get("app-topped-up"))
    } else if q.contains_key("withdrawn") {
        Some(t.get("app-withdrawn"))
    } else {
        None
    };
    let page = MoneyPage {
        f: Frame::new(&state, &req, Some(&me), "money", "app-tab-money"),
        balance: lang.eur(Money::cents(me.balance)),
        month: month.to_string(),
        months: months(this_month)
            .into_iter()
            .map(|m| Choice {
                value: m.to_string(),
                label: month_label(lang, m),
                selected: m == month,
            })
            .collect(),
        kinds: KINDS
            .iter()
            .map(|k| Choice {
                value: k.to_string(),
                label: t.get(&format!("app-kind-{k}")),
                selected: kind.as_deref() == Some(*k),
            })
            .collect(),
        opening: lang.eur(s.opening),
        closing: lang.eur(s.closing),
        lines,
        notice,
    };
    render(&state, &req, StatusCode::OK, &page)
}

/// `GET /app/money/statements/{YYYY-MM}.{pdf|csv|xlsx}`: the month's statement file.
pub async fn statement(
    state: web::Data<AppState>,
    req: HttpRequest,
    file: web::Path<String>,
) -> HttpResponse {
    let me = match signed_in(&state, &req).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let file = file.into_inner();
    let parsed = file
        .split_once('.')
        .and_then(|(m, ext)| Some((Month::parse(m)?, Format::download(ext)?)));
    let Some((month, format)) = parsed else {
        return super::super::not_found_page(&req);
    };
    let done = match statements::statement(&state, &me, month).await {
        Ok(s) => statement_file(&s, &state.calendar, format),
        Err(e) => Err(e),
    };
    match done {
        Ok(mut res) => {
            use actix_web::http::header::{self, HeaderValue};
            // A download, never a page: not cached, not sniffed, nothing in it may run.
            let h = res.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            res
        }
        Err(e) if e.status.is_client_error() => super::super::not_found_page(&req),
        Err(e) => super::failure_page(&req, &e),
    }
}

#[derive(Template)]
#[template(path = "app/top_up.html")]
pub struct TopUp {
    pub f: Frame,
    pub balance: String,
    pub providers: Vec<Choice>,
    pub amount: String,
    pub error: Option<String>,
}

impl Page for TopUp {
    fn frame(&self) -> &Frame {
        &self.f
    }
}

fn top_up_page(
    state: &AppState,
    req: &HttpRequest,
    me: &Account,
    amount: String,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let lang = super::language(req);
    let page = TopUp {
        f: Frame::new(state, req, Some(me), "money", "app-top-up"),
        balance: lang.eur(Money::cents(me.balance)),
        providers: Provider::offered(&state.config)
            .into_iter()
            .enumerate()
            .map(|(i, p)| Choice {
                value: p.to_string(),
                label: lang.t().get(&format!("app-provider-{p}")),
                selected: i == 0,
            })
            .collect(),
        amount,
        error,
    };
    render(state, req, status, &page)
}

/// `GET /app/money/top-up`.
pub async fn top_up_form(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    match signed_in(&state, &req).await {
        Ok(me) => top_up_page(&state, &req, &me, String::new(), None, StatusCode::OK),
        Err(res) => res,
    }
}

/// `POST /app/money/top-up`: orders a reload; the provider's page opens where it has one.
pub async fn top_up(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let amount = form
        .get("amount")
        .map(|a| a.trim().replace(',', "."))
        .unwrap_or_default();
    let order = reloads::ReloadRequest {
        amount: amount.clone(),
        provider: form.get("provider").cloned().filter(|p| !p.is_empty()),
    };
    match reloads::order(&state, &me, order).await {
        Ok(o) => match o.payment_url {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                see_other(&url)
            }
            _ => see_other("/app/money?topped=1"),
        },
        Err(e) if e.status.is_server_error() => super::failure_page(&req, &e),
        Err(e) => {
            let t = super::language(&req).t();
            let status = super::refusal_status(&e);
            top_up_page(&state, &req, &me, amount, Some(explain(t, &e)), status)
        }
    }
}

#[derive(Template)]
#[template(path = "app/send.html")]
pub struct Send {
    pub f: Frame,
    pub balance: String,
    pub to: String,
    pub amount: String,
    pub description: String,
    /// Set once the fee is known: the confirmation step.
    pub review: Option<Review>,
    pub error: Option<String>,
}

pub struct Review {
    pub to: String,
    pub amount: String,
    pub fee: String,
    pub total: String,
    pub passkey: Option<String>,
    pub passkey_note: String,
    pub attempts: String,
    pub button: String,
}

impl Page for Send {
    fn frame(&self) -> &Frame {
        &self.f
    }
}

struct SendForm {
    to: String,
    amount: String,
    description: String,
}

fn send_form(form: &HashMap<String, String>) -> SendForm {
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    SendForm {
        to: field("to").trim_start_matches('@').to_string(),
        amount: field("amount").replace(',', "."),
        description: field("description"),
    }
}

fn send_page(
    state: &AppState,
    req: &HttpRequest,
    me: &Account,
    s: SendForm,
    review: Option<Review>,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let lang = super::language(req);
    let page = Send {
        f: Frame::new(state, req, Some(me), "send", "app-tab-send"),
        balance: lang.eur(Money::cents(me.balance)),
        to: s.to,
        amount: s.amount,
        description: s.description,
        review,
        error,
    };
    render(state, req, status, &page)
}

/// `GET /app/send`.
pub async fn send_start(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let me = match signed_in(&state, &req).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let q = query(&req);
    let s = send_form(&q);
    send_page(&state, &req, &me, s, None, None, StatusCode::OK)
}

/// `POST /app/send/review`: the fee and the total, then the PIN (and the passkey).
pub async fn send_review(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    review(&state, &req, &me, send_form(&form), None).await
}

async fn review(
    state: &AppState,
    req: &HttpRequest,
    me: &Account,
    s: SendForm,
    error: Option<String>,
) -> HttpResponse {
    let lang = super::language(req);
    let t = lang.t();
    let quote = match transfers::quote(state, me, &s.to, &s.amount).await {
        Ok(q) => q,
        Err(e) if e.status.is_server_error() => return super::failure_page(req, &e),
        Err(e) => {
            let status = super::refusal_status(&e);
            return send_page(state, req, me, s, None, Some(explain(t, &e)), status);
        }
    };
    let amount = lang.eur(quote.amount);
    let challenge = transfers::TransferChallenge {
        to: quote.to.clone(),
        amount: quote.amount.to_string(),
    };
    let open = transfers::passkey_challenge(state, me, challenge);
    let passkey = super::super::passkey_options_for(state, me, open).await;
    let total = lang.eur(quote.amount + quote.fee);
    let r = Review {
        button: t.with("app-send-button", &[("total", &total)]),
        passkey_note: t.with(
            "passkey-note",
            &[("amount", &amount), ("merchant", &format!("@{}", quote.to))],
        ),
        to: quote.to.clone(),
        fee: lang.eur(quote.fee),
        total,
        amount,
        passkey,
        attempts: super::attempts_left(t, me),
    };
    let s = SendForm {
        to: quote.to,
        amount: quote.amount.to_string(),
        description: s.description,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    send_page(state, req, me, s, Some(r), error, status)
}

/// `POST /app/send/confirm`: sends with the PIN (and the passkey's assertion).
pub async fn send(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let s = send_form(&form);
    let t = super::language(&req).t();
    let webauthn = match super::assertion(&form) {
        Ok(a) => a,
        Err(e) => return review(&state, &req, &me, s, Some(explain(t, &e))).await,
    };
    let request = transfers::TransferRequest {
        to: s.to.clone(),
        amount: s.amount.clone(),
        pin: form.get("pin").cloned().unwrap_or_default(),
        description: Some(s.description.clone()).filter(|d| !d.is_empty()),
        webauthn,
    };
    match transfers::send(&state, &me, request, unsealed()).await {
        Ok(_) => see_other("/app/money?sent=1"),
        Err(e) if e.status.is_server_error() => super::failure_page(&req, &e),
        Err(e) => {
            // The PIN counter moved: read the wallet again for the attempts left.
            let fresh = fresh(&state, &me).await;
            review(&state, &req, &fresh, s, Some(explain(t, &e))).await
        }
    }
}

/// The wallet as it is now (a refused PIN moved its counter).
pub async fn fresh(state: &AppState, me: &Account) -> Account {
    let id = me.id;
    state
        .db
        .run(move |c| Ok(crate::db::accounts::find(c, id)?))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| me.clone())
}

/// A form posted to a send address with GET (a reload after an error): the start.
pub async fn send_address() -> HttpResponse {
    see_other("/app/send")
}
