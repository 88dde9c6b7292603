//! The sandbox (`PINPAY_ENV=sandbox`): a test clock, a simulated payer, sample callbacks
//! and self-service merchants. Each goes through the same services as production (the
//! approval's transaction, the outbox and its worker, registration, API tokens); only the
//! PIN is skipped for the simulated payer. A database remembers whether a sandbox or a
//! live server uses it, and refuses the other kind.

use crate::config::Environment;
use crate::db::models::Account;
use crate::db::schema::{
    money_requests as mr, outbox_events as ob, sandbox_clocks as sc, server_environment as se,
};
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::account::AccountKind;
use crate::domain::money::Money;
use crate::domain::requests::public_id;
use crate::domain::status::RequestStatus;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self, Entry, Leg, TxKind};
use crate::services::idempotency::unsealed;
use crate::services::identity::accounts::{self, Registration, RegistrationKind};
use crate::services::payments::requests::view::RequestView;
use crate::services::payments::requests::{approval, merchant};
use crate::services::wallet::money;
use crate::services::Context;
use crate::services::{merchants::api_tokens, messaging::outbox, payments::links};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

mod events;
mod merchants;
pub use events::{test_event, QueuedEvent, TestEvent};
pub use merchants::{create_merchant, NewMerchant, SandboxMerchant};

/// The wallet that pays open links when the simulation names no payer.
pub const SANDBOX_PAYER: &str = "sandbox-payer";
/// The test clock moves at most this far in one call (five years).
const MAX_ADVANCE_SECS: i64 = 5 * 365 * 24 * 3600;
/// The event types a merchant can receive, and so ask a sample of.
pub const EVENT_TYPES: [&str; 5] = [
    "money_request.approved",
    "money_request.declined",
    "money_request.expired",
    "money_request.cancelled",
    "refund.succeeded",
];

/// Records which kind of server uses the database, or refuses a database the other kind
/// has used. A database without the record that already holds accounts was used by a
/// live server (the sandbox came later).
pub fn claim_database(
    c: &mut DbConn,
    environment: Environment,
    now: NaiveDateTime,
) -> ApiResult<Result<(), String>> {
    let class = environment.database_class();
    write_tx(c, |c| {
        let stored: Option<String> = se::table
            .find(1)
            .select(se::environment)
            .first(c)
            .optional()?;
        let owner = match stored {
            Some(found) => found,
            None => {
                let used = crate::db::schema::accounts::table
                    .filter(crate::db::schema::accounts::kind.ne("system"))
                    .count()
                    .get_result::<i64>(c)?
                    > 0;
                let owner = if used { "live" } else { class };
                diesel::insert_into(se::table)
                    .values((
                        se::id.eq(1),
                        se::environment.eq(owner),
                        se::created_at.eq(now),
                        se::updated_at.eq(now),
                    ))
                    .execute(c)?;
                owner.to_string()
            }
        };
        if owner != class {
            return Ok(Err(format!(
                "this database belongs to a {owner} server; a {class} server (PINPAY_ENV={}) \
                 must use a database of its own",
                match environment {
                    Environment::Sandbox => "sandbox",
                    Environment::Development => "development",
                    Environment::Production => "production",
                }
            )));
        }
        Ok(Ok(()))
    })
}

/// Sandbox routes answer 404 anywhere else, as if they did not exist.
pub fn only_in_sandbox(state: &Context) -> ApiResult<()> {
    if state.config.environment == Environment::Sandbox {
        Ok(())
    } else {
        Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "route_not_found",
            "No route matches this path.",
        ))
    }
}

#[derive(Serialize)]
pub struct ClockView {
    pub object: &'static str,
    /// The time on this merchant's test clock.
    pub now: DateTime<Utc>,
    /// How far this merchant's test clock is ahead of real time.
    pub offset_seconds: i64,
}

fn offset_of(c: &mut DbConn, account_id: i64) -> ApiResult<i64> {
    Ok(sc::table
        .find(account_id)
        .select(sc::offset_micros)
        .first(c)
        .optional()?
        .unwrap_or(0))
}

fn clock_view(state: &Context, offset_micros: i64) -> ClockView {
    let offset = Duration::microseconds(offset_micros);
    ClockView {
        object: "sandbox_clock",
        now: state.clock.now() + offset,
        offset_seconds: offset.num_seconds(),
    }
}

/// The caller's test clock.
pub async fn clock(state: &Context, account_id: i64) -> ApiResult<ClockView> {
    let offset = state.db.run(move |c| offset_of(c, account_id)).await?;
    Ok(clock_view(state, offset))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    pub advance_seconds: i64,
}

/// Moves the caller's test clock forward: what runs on it (the deadlines of its pending
/// requests and the retries of its callbacks) comes that much nearer, in the database,
/// so every instance sees it. Then runs what fell due at once: the expiry sweep and the
/// callback worker. Real time stays real: callback signatures (`webhook-timestamp`),
/// sessions, tokens and other merchants' requests are not moved.
pub async fn advance(state: &Context, account_id: i64, req: Advance) -> ApiResult<ClockView> {
    if !(1..=MAX_ADVANCE_SECS).contains(&req.advance_seconds) {
        return Err(ApiError::invalid_field(
            "advance_seconds",
            format!("advance_seconds must be between 1 and {MAX_ADVANCE_SECS} (the clock only moves forward)"),
        ));
    }
    let by = Duration::seconds(req.advance_seconds);
    let now = state.clock.now_naive();
    let offset: i64 = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let moved = offset_of(c, account_id)? + by.num_microseconds().unwrap_or(0);
                diesel::delete(sc::table.find(account_id)).execute(c)?;
                diesel::insert_into(sc::table)
                    .values((
                        sc::account_id.eq(account_id),
                        sc::offset_micros.eq(moved),
                        sc::updated_at.eq(now),
                    ))
                    .execute(c)?;
                let pending: Vec<(i64, NaiveDateTime)> = mr::table
                    .filter(mr::merchant_id.eq(account_id))
                    .filter(mr::status.eq(RequestStatus::Pending.as_str()))
                    .select((mr::id, mr::expires_at))
                    .load(c)?;
                for (id, expires_at) in pending {
                    diesel::update(mr::table.find(id))
                        .set(mr::expires_at.eq(expires_at - by))
                        .execute(c)?;
                }
                let waiting: Vec<(i64, NaiveDateTime)> = ob::table
                    .filter(ob::merchant_id.eq(account_id))
                    .filter(ob::delivered_at.is_null())
                    .select((ob::id, ob::next_attempt_at))
                    .load(c)?;
                for (id, at) in waiting {
                    diesel::update(ob::table.find(id))
                        .set(ob::next_attempt_at.eq(at - by))
                        .execute(c)?;
                }
                Ok(moved)
            })
        })
        .await?;
    crate::services::payments::requests::expiry::sweep_backlog(state, || false).await;
    state.db.outbox_wake.notify_one();
    state.sends_wake.notify_one();
    Ok(clock_view(state, offset))
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Approve,
    Decline,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulate {
    pub outcome: Outcome,
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub payer: Option<String>,
}

/// Acts as the payer of the merchant's request: the addressed wallet, or for an open link
/// the named wallet (else `sandbox-payer`). An approval first tops the payer up to the
/// amount if needed (an `adjustment` from the bank, "Sandbox funding"), then runs the
/// approval's own transaction: limits, fee, ledger, status, callback.
pub async fn simulate(
    state: &Context,
    merchant: &Account,
    public_id: String,
    req: Simulate,
) -> ApiResult<RequestView> {
    let request = merchant::get(state, merchant, public_id.clone()).await?;
    let payer = match (&request.payer, req.payer.as_deref()) {
        (Some(addressed), Some(named)) if !addressed.eq_ignore_ascii_case(named) => {
            return Err(ApiError::invalid_field(
                "payer",
                format!("this request is addressed to {addressed}; leave payer out or name them"),
            ))
        }
        (Some(addressed), _) => find_wallet(state, addressed).await?,
        (None, Some(named)) => find_wallet(state, named).await?,
        (None, None) => sandbox_payer(state).await?,
    };
    match req.outcome {
        Outcome::Approve => {
            approval::payable(state, &payer, &public_id).await?;
            fund(state, payer.id, request.amount).await?;
            approval::settle_approval(state, payer.id, public_id.clone(), None, unsealed()).await?;
        }
        Outcome::Decline => {
            if request.payer.is_none() {
                links::address(state, public_id.clone(), payer.username.clone()).await?;
            }
            let reason = approval::DeclineRequest {
                reason_code: None,
                reason: Some("Declined by the sandbox's simulated payer".into()),
            };
            approval::decline(state, &payer, public_id.clone(), reason).await?;
        }
    }
    merchant::get(state, merchant, public_id).await
}

/// A wallet that can pay: a private user's, or a merchant's (Corporate+ merchants make
/// purchases; the approval refuses the others as it would in production).
async fn find_wallet(state: &Context, username: &str) -> ApiResult<Account> {
    let name = username.trim().to_ascii_lowercase();
    state
        .db
        .run(move |c| {
            Ok(q::find_by_username(c, &name)?
                .filter(|a| AccountKind::from_db(&a.kind) != AccountKind::System))
        })
        .await?
        .ok_or_else(|| {
            ApiError::unprocessable("unknown_payer", "No sandbox wallet has this username.")
                .with("field", "payer")
        })
}

/// The default simulated payer, registered the first time it is needed.
async fn sandbox_payer(state: &Context) -> ApiResult<Account> {
    if let Ok(found) = find_wallet(state, SANDBOX_PAYER).await {
        return Ok(found);
    }
    let registered = accounts::register(
        state,
        Registration {
            kind: RegistrationKind::Private,
            username: SANDBOX_PAYER.into(),
            password: crate::auth::opaque::generate("pw"),
            email: "sandbox-payer@sandbox.pinpay.invalid".into(),
            phone: None,
            company_name: None,
            iban: None,
            bic: None,
        },
    )
    .await;
    match registered {
        Ok(account) => Ok(account),
        // Registered by a simulation running at the same moment.
        Err(_) => find_wallet(state, SANDBOX_PAYER).await,
    }
}

/// Tops the wallet up to `amount` if its balance is short of it.
async fn fund(state: &Context, payer_id: i64, amount: Money) -> ApiResult<()> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let payer = q::lock(c, payer_id)?.ok_or_else(ApiError::internal)?;
                let short = amount.as_cents() - payer.balance;
                if short <= 0 {
                    return Ok(());
                }
                let bank = ledger::system_account(c, "bank_clearing")?;
                money::post(
                    c,
                    Entry {
                        kind: TxKind::Adjustment,
                        legs: &[
                            Leg::debit(bank, Money::cents(short)),
                            Leg::credit(payer_id, Money::cents(short)),
                        ],
                        related_id: None,
                        external_ref: None,
                        description: Some("Sandbox funding"),
                        factors: None,
                    },
                    now,
                )?;
                Ok(())
            })
        })
        .await
}
