//! Withdrawing to the wallet's own bank account: the account on file (or adding one, with
//! the password), the amount, then the fee and total before the PIN (and the passkey,
//! which signs the amount to that IBAN). The tier's payout limits apply in the use case.

use super::{explain, render, see_other, signed_in, Frame, Page};
use crate::db::models::Account;
use crate::domain::money::Money;
use crate::error::ApiError;
use crate::services::idempotency::unsealed;
use crate::services::merchants::bank_account::{self, BankAccountChange};
use crate::services::wallet::payouts;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use std::collections::HashMap;

pub struct Review {
    pub amount: String,
    pub fee: String,
    pub total: String,
    pub passkey: Option<String>,
    pub passkey_note: String,
    pub button: String,
}

#[derive(Template)]
#[template(path = "app/withdraw.html")]
pub struct Withdraw {
    pub f: Frame,
    pub balance: String,
    /// The IBAN on file, shown as its country and last four characters.
    pub iban: Option<String>,
    pub fee: String,
    pub amount: String,
    pub review: Option<Review>,
    pub error: Option<String>,
}

impl Page for Withdraw {
    fn frame(&self) -> &Frame {
        &self.f
    }
}

/// `DE89 … 3000`: enough to recognise one's account, not to copy it.
fn masked(iban: &str) -> String {
    let tail: String = iban
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{} … {tail}", iban.chars().take(4).collect::<String>())
}

async fn page(
    state: &AppState,
    req: &HttpRequest,
    me: &Account,
    amount: String,
    review: Option<Review>,
    error: Option<ApiError>,
) -> HttpResponse {
    let lang = super::language(req);
    let status = error.as_ref().map_or(StatusCode::OK, super::refusal_status);
    let page = Withdraw {
        f: Frame::new(state, req, Some(me), "money", "app-withdraw"),
        balance: lang.eur(Money::cents(me.balance)),
        iban: me.iban.as_deref().map(masked),
        fee: lang.eur(payouts::fee(state, me)),
        amount,
        review,
        error: error.map(|e| explain(lang.t(), &e)),
    };
    render(state, req, status, &page)
}

fn amount_of(form: &HashMap<String, String>) -> String {
    form.get("amount")
        .map(|a| a.trim().replace(',', "."))
        .unwrap_or_default()
}

/// `GET /app/money/withdraw`.
pub async fn show(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    match signed_in(&state, &req).await {
        Ok(me) => page(&state, &req, &me, String::new(), None, None).await,
        Err(res) => res,
    }
}

/// `POST /app/money/withdraw/bank-account`: the IBAN and BIC, with the password.
pub async fn bank(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let change = BankAccountChange {
        iban: field("iban"),
        bic: field("bic"),
        password: form.get("password").cloned().unwrap_or_default(),
    };
    let client = req.peer_addr().map(|a| a.ip());
    match bank_account::change(&state, client, &me, change).await {
        Ok(_) => see_other("/app/money/withdraw"),
        Err(e) if e.status.is_server_error() => super::failure_page(&req, &e),
        Err(e) => page(&state, &req, &me, String::new(), None, Some(e)).await,
    }
}

/// `POST /app/money/withdraw/review`: the fee and total, then the PIN (and the passkey).
pub async fn review(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    reviewed(&state, &req, &me, amount_of(&form), None).await
}

async fn reviewed(
    state: &AppState,
    req: &HttpRequest,
    me: &Account,
    raw: String,
    error: Option<ApiError>,
) -> HttpResponse {
    let lang = super::language(req);
    let t = lang.t();
    let amount = match Money::parse_amount("amount", &raw) {
        Ok(a) => a,
        Err(e) => return page(state, req, me, raw, None, Some(e)).await,
    };
    let Some(iban) = me.iban.as_deref() else {
        let e = crate::domain::onboarding::no_bank_account();
        return page(state, req, me, raw, None, Some(e)).await;
    };
    let fee = payouts::fee(state, me);
    let challenge = payouts::PayoutChallenge {
        amount: amount.to_string(),
    };
    let open = payouts::passkey_challenge(state, me, challenge);
    let passkey = super::super::passkey_options_for(state, me, open).await;
    let total = lang.eur(amount + fee);
    let shown = lang.eur(amount);
    let r = Review {
        passkey_note: t.with(
            "passkey-note",
            &[("amount", &shown), ("merchant", &masked(iban))],
        ),
        button: t.with("app-withdraw-button", &[("amount", &shown)]),
        amount: shown,
        fee: lang.eur(fee),
        total,
        passkey,
    };
    page(state, req, me, amount.to_string(), Some(r), error).await
}

/// `POST /app/money/withdraw/confirm`: pays out with the PIN (and the passkey's assertion).
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let amount = amount_of(&form);
    let webauthn = match super::assertion(&form) {
        Ok(a) => a,
        Err(e) => return reviewed(&state, &req, &me, amount, Some(e)).await,
    };
    let request = payouts::PayoutRequest {
        amount: amount.clone(),
        pin: form.get("pin").cloned().unwrap_or_default(),
        webauthn,
    };
    match payouts::withdraw(&state, &me, request, unsealed()).await {
        Ok(_) => see_other("/app/money?withdrawn=1"),
        Err(e) if e.status.is_server_error() => super::failure_page(&req, &e),
        Err(e) => {
            let fresh = super::money::fresh(&state, &me).await;
            reviewed(&state, &req, &fresh, amount, Some(e)).await
        }
    }
}

/// `GET` on a withdrawal form's address: the withdrawal page.
pub async fn form_address() -> HttpResponse {
    see_other("/app/money/withdraw")
}
