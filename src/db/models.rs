//! Row structs mapped to the tables in `schema.rs`.

use super::schema::{accounts, ledger_transactions, postings, refresh_tokens};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub kind: String,
    pub password_hash: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    pub balance: i64,
    pub api_token_generation: i64,
    pub pin_hash: Option<String>,
    pub pin_failed_attempts: i64,
    pub pin_blocked_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Everything the account was ever debited (the balance view's running total).
    pub debited_total: i64,
    /// When the current IBAN was verified by the 0.02 EUR payout's code.
    pub bank_verified_at: Option<NaiveDateTime>,
    /// The low-balance alert's threshold in cents, while the alert is enabled.
    pub alert_threshold: Option<i64>,
    /// False from an alert until the balance is back at or above the threshold.
    pub alert_armed: bool,
    /// Auto-reload's `replenish_amount` in cents, while auto-reload is on.
    pub reload_threshold: Option<i64>,
    /// The time of the account's latest posting: the next one is booked no earlier.
    pub booking_clock: NaiveDateTime,
    /// When the account's e-mail address was confirmed by the code mailed to it.
    pub email_confirmed_at: Option<NaiveDateTime>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = accounts)]
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub kind: &'a str,
    pub password_hash: Option<&'a str>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub company_name: Option<&'a str>,
    pub iban: Option<&'a str>,
    pub bic: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: i64,
    pub account_id: i64,
    pub token_hash: String,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub account_id: i64,
    pub token_hash: &'a str,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = ledger_transactions)]
pub struct LedgerTransaction {
    pub id: i64,
    pub kind: String,
    pub related_id: Option<i64>,
    pub external_ref: Option<String>,
    pub description: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = postings)]
pub struct Posting {
    pub id: i64,
    pub transaction_id: i64,
    pub account_id: i64,
    pub kind: String,
    pub amount: i64,
    pub counterparty_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = crate::db::schema::money_requests)]
pub struct MoneyRequest {
    pub id: i64,
    pub public_id: String,
    pub merchant_id: i64,
    pub payer_id: Option<i64>,
    #[diesel(deserialize_as = String)]
    pub status: crate::domain::status::RequestStatus,
    pub amount: i64,
    pub fee: i64,
    pub original_amount: Option<String>,
    pub original_currency: Option<String>,
    pub exchange_rate: Option<String>,
    pub description: Option<String>,
    pub reference: Option<String>,
    pub callback_url: Option<String>,
    pub metadata: Option<String>,
    pub expires_at: NaiveDateTime,
    pub paid_by: Option<i64>,
    pub payment_transaction_id: Option<i64>,
    pub refunded_amount: i64,
    pub decline_reason_code: Option<String>,
    pub decline_reason: Option<String>,
    pub resolved_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// `link` (created without a payer) or `addressed`.
    pub kind: String,
    pub return_url: Option<String>,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = crate::db::schema::money_request_events)]
pub struct RequestEvent {
    pub id: i64,
    pub request_id: i64,
    pub event_type: String,
    pub actor: String,
    pub detail: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = crate::db::schema::refunds)]
pub struct Refund {
    pub id: i64,
    pub public_id: String,
    pub request_id: i64,
    pub amount: i64,
    pub reason: Option<String>,
    pub transaction_id: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = crate::db::schema::outbox_events)]
pub struct OutboxEvent {
    pub id: i64,
    pub public_id: String,
    pub merchant_id: i64,
    pub event_type: String,
    pub payload: String,
    pub target_url: Option<String>,
    #[diesel(deserialize_as = String)]
    pub status: crate::domain::status::DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = crate::db::schema::merchant_callbacks)]
pub struct MerchantCallbacks {
    pub merchant_id: i64,
    pub url: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = crate::db::schema::callback_attempts)]
pub struct CallbackAttempt {
    pub id: i64,
    pub event_id: i64,
    pub attempt: i32,
    pub target_url: Option<String>,
    pub started_at: NaiveDateTime,
    pub http_status: Option<i32>,
    pub error: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub duration_ms: Option<i32>,
    pub error_class: Option<String>,
}
