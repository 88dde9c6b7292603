//! The merchant's bank account: verification by a 0.02 EUR payout whose transfer subject
//! carries a one-time code (seed 002's "Bestätigungs-Code"), confirmation with that code,
//! and changing the IBAN (which clears the verification).
//!
//! The payout is booked from PinPay's own revenue (`fees`) to `bank_clearing`, and a
//! payout record tells the bank integration what to transfer. The code is kept only as a
//! hash (peppered SHA-256, compared in constant time); it appears in clear in the pending
//! payout's subject alone, and is blanked when the payout is marked executed.

use crate::auth::opaque::constant_time_eq;
use crate::db::models::Account;
use crate::db::schema::{accounts, bank_verifications as bv, payouts as po};
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::bank::{Bic, Iban};
use crate::domain::money::Money;
use crate::domain::onboarding as rules;
use crate::domain::status::VerificationStatus;
use crate::domain::time::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self, Entry, Leg, TxKind};
use crate::services::wallet::money;
use crate::services::Context;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// The verification state shown to the merchant (and in `GET /v1/me`).
#[derive(Serialize, Debug, Clone)]
pub struct BankAccountView {
    pub iban: Option<String>,
    pub bic: Option<String>,
    pub verified: bool,
    pub verified_at: Option<String>,
    /// The open verification, if one waits for its code.
    pub verification: Option<VerificationView>,
}

#[derive(Serialize, Debug, Clone)]
pub struct VerificationView {
    pub status: String,
    pub payout_id: String,
    pub amount: Money,
    pub requested_at: String,
    pub expires_at: String,
    pub attempts_remaining: i32,
}

type VerificationRow = (
    i64,
    String,
    String,
    i32,
    String,
    NaiveDateTime,
    NaiveDateTime,
);

/// The newest verification of the account that still waits for its code.
fn pending(c: &mut DbConn, account_id: i64) -> ApiResult<Option<VerificationRow>> {
    Ok(bv::table
        .inner_join(po::table.on(po::id.eq(bv::payout_id)))
        .filter(bv::account_id.eq(account_id))
        .filter(bv::status.eq(VerificationStatus::Pending.as_str()))
        .order(bv::id.desc())
        .select((
            bv::id,
            bv::code_hash,
            bv::status,
            bv::failed_attempts,
            po::public_id,
            bv::created_at,
            bv::expires_at,
        ))
        .first(c)
        .optional()?)
}

fn view_of(
    account: &Account,
    open: Option<VerificationRow>,
    now: NaiveDateTime,
) -> BankAccountView {
    BankAccountView {
        iban: account.iban.clone(),
        bic: account.bic.clone(),
        verified: account.bank_verified_at.is_some(),
        verified_at: account.bank_verified_at.map(rfc3339),
        verification: open.map(|(_, _, status, failed, payout, created, expires)| {
            VerificationView {
                status: if expires <= now {
                    "expired".into()
                } else {
                    status
                },
                payout_id: payout,
                amount: Money::cents(rules::VERIFICATION_AMOUNT_CENTS),
                requested_at: rfc3339(created),
                expires_at: rfc3339(expires),
                attempts_remaining: (rules::MAX_WRONG_CODES - failed).max(0),
            }
        }),
    }
}

pub async fn view(state: &Context, account: &Account) -> ApiResult<BankAccountView> {
    let (account, now) = (account.clone(), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            let open = pending(c, account.id)?;
            Ok(view_of(&account, open, now))
        })
        .await
}

/// Books the 0.02 EUR verification payout with a new code; an earlier code still waiting
/// is void from now on. At most 3 per calendar day.
pub async fn request_verification(
    state: &Context,
    account: &Account,
) -> ApiResult<BankAccountView> {
    let (id, now) = (account.id, state.clock.now());
    let pepper = state.config.pepper.expose().to_string();
    let today = state.calendar.day(now);
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let now = now.naive_utc();
                let account = q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                let Some(iban) = account.iban.clone() else {
                    return Err(rules::no_bank_account());
                };
                if account.bank_verified_at.is_some() {
                    return Err(ApiError::conflict(
                        "bank_account_already_verified",
                        "This bank account is verified already.",
                    ));
                }
                if account.email_confirmed_at.is_none() {
                    return Err(crate::services::merchants::email_confirmation::not_confirmed());
                }
                let asked_today: i64 = bv::table
                    .filter(bv::account_id.eq(id))
                    .filter(bv::created_at.ge(today.start))
                    .filter(bv::created_at.lt(today.end))
                    .count()
                    .get_result(c)?;
                if asked_today >= rules::MAX_VERIFICATIONS_PER_DAY {
                    let wait = (today.end - now).num_seconds().max(1) as u64;
                    return Err(ApiError::new(
                        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                        "verification_limit_reached",
                        "At most 3 verification payouts a day; ask again tomorrow.",
                    )
                    .retry_after(wait));
                }
                if let Some(open) = pending(c, id)? {
                    let (sent, expires) = (open.5, open.6);
                    let again = sent + Duration::days(rules::RESEND_AFTER_DAYS);
                    if expires > now && again > now {
                        return Err(ApiError::conflict(
                            "verification_pending",
                            format!(
                                "A verification payout is on its way (sent {}); enter the code \
                                 from its transfer subject. Another can be asked for from {}.",
                                crate::domain::time::rfc3339(sent),
                                crate::domain::time::rfc3339(again)
                            ),
                        )
                        .retry_after((again - now).num_seconds().max(1) as u64));
                    }
                }
                void_pending(c, id, now)?;
                let code = rules::new_code();
                let amount = Money::cents(rules::VERIFICATION_AMOUNT_CENTS);
                let (fees, clearing) = (
                    ledger::system_account(c, "fees")?,
                    ledger::system_account(c, "bank_clearing")?,
                );
                let description = format!("Bank account verification payout to {iban}");
                let transaction_id = money::post(
                    c,
                    Entry {
                        kind: TxKind::Adjustment,
                        legs: &[Leg::debit(fees, amount), Leg::credit(clearing, amount)],
                        related_id: None,
                        external_ref: None,
                        description: Some(&description),
                        factors: None,
                    },
                    now,
                )?;
                let payout_id = crate::services::wallet::payouts::record(
                    c,
                    crate::services::wallet::payouts::NewPayout {
                        account_id: id,
                        purpose: "verification",
                        amount,
                        iban: &iban,
                        bic: account.bic.as_deref(),
                        subject: &rules::subject(&code),
                        transaction_id,
                    },
                    now,
                )?;
                diesel::insert_into(bv::table)
                    .values((
                        bv::account_id.eq(id),
                        bv::iban.eq(&iban),
                        bv::code_hash.eq(rules::code_hash(&pepper, id, &code)),
                        bv::status.eq(VerificationStatus::Pending.as_str()),
                        bv::payout_id.eq(payout_id),
                        bv::created_at.eq(now),
                        bv::expires_at.eq(now + Duration::days(rules::CODE_VALID_DAYS)),
                    ))
                    .execute(c)?;
                let open = pending(c, id)?;
                Ok(view_of(&account, open, now))
            })
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    pub code: String,
}

/// Confirms the bank account with the code. A wrong code counts (and is committed as
/// counted); the third voids the code.
pub async fn verify(
    state: &Context,
    account: &Account,
    entry: CodeEntry,
) -> ApiResult<BankAccountView> {
    let code = rules::normalise_code(&entry.code)?;
    let (id, now) = (account.id, state.clock.now_naive());
    let pepper = state.config.pepper.expose().to_string();
    state
        .db
        .run(move |c| {
            // A refusal that must still commit (the counted attempt) comes back as Ok(Err).
            write_tx(c, |c| {
                q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                let Some((vid, hash, _, failed, _, _, expires)) = pending(c, id)? else {
                    return Err(ApiError::conflict(
                        "no_pending_verification",
                        "No verification code is waiting; request one with \
                         POST /v1/me/bank-account/verification.",
                    ));
                };
                if expires <= now {
                    diesel::update(bv::table.find(vid))
                        .set((
                            bv::status.eq(VerificationStatus::Voided.as_str()),
                            bv::resolved_at.eq(now),
                        ))
                        .execute(c)?;
                    return Ok(Err(ApiError::conflict(
                        "verification_code_expired",
                        "The code has expired (codes are valid for 14 days); request a new one.",
                    )));
                }
                if !constant_time_eq(&rules::code_hash(&pepper, id, &code), &hash) {
                    let failed = failed + 1;
                    let voided = failed >= rules::MAX_WRONG_CODES;
                    diesel::update(bv::table.find(vid))
                        .set((
                            bv::failed_attempts.eq(failed),
                            bv::status.eq(if voided {
                                VerificationStatus::Voided
                            } else {
                                VerificationStatus::Pending
                            }
                            .as_str()),
                            bv::resolved_at.eq(voided.then_some(now)),
                        ))
                        .execute(c)?;
                    return Ok(Err(if voided {
                        ApiError::unprocessable(
                            "verification_code_voided",
                            "That was the third wrong code: the code is void. Request a new \
                             verification payout.",
                        )
                    } else {
                        ApiError::unprocessable(
                            "verification_code_invalid",
                            "The code is not correct.",
                        )
                        .with("attempts_remaining", rules::MAX_WRONG_CODES - failed)
                    }));
                }
                diesel::update(bv::table.find(vid))
                    .set((
                        bv::status.eq(VerificationStatus::Verified.as_str()),
                        bv::resolved_at.eq(now),
                    ))
                    .execute(c)?;
                let account: Account = diesel::update(accounts::table.find(id))
                    .set((
                        accounts::bank_verified_at.eq(now),
                        accounts::updated_at.eq(now),
                    ))
                    .returning(accounts::all_columns)
                    .get_result(c)?;
                Ok(Ok(view_of(&account, None, now)))
            })
        })
        .await?
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankAccountChange {
    pub iban: String,
    pub bic: String,
    pub password: String,
}

/// A new IBAN (with the password): the verification starts over.
pub async fn change(
    state: &Context,
    client: Option<std::net::IpAddr>,
    account: &Account,
    change: BankAccountChange,
) -> ApiResult<BankAccountView> {
    let iban = Iban::parse(&change.iban)?;
    let bic = Bic::parse(&change.bic)?;
    let same = crate::services::identity::accounts::authenticate(
        state,
        client,
        &account.username,
        change.password,
    )
    .await?;
    if same.id != account.id {
        return Err(ApiError::internal());
    }
    let (id, now) = (account.id, state.clock.now_naive());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let before = q::lock(c, id)?.ok_or_else(ApiError::internal)?;
                let unchanged = before.iban.as_deref() == Some(iban.as_str())
                    && before.bic.as_deref() == Some(bic.as_str());
                if unchanged {
                    let open = pending(c, id)?;
                    return Ok(view_of(&before, open, now));
                }
                void_pending(c, id, now)?;
                let account: Account = diesel::update(accounts::table.find(id))
                    .set((
                        accounts::iban.eq(iban.as_str()),
                        accounts::bic.eq(bic.as_str()),
                        accounts::bank_verified_at.eq(None::<NaiveDateTime>),
                        accounts::updated_at.eq(now),
                    ))
                    .returning(accounts::all_columns)
                    .get_result(c)?;
                Ok(view_of(&account, None, now))
            })
        })
        .await
}

/// Voids the account's codes still waiting (a new code, or a new IBAN, replaces them).
fn void_pending(c: &mut DbConn, account_id: i64, now: NaiveDateTime) -> ApiResult<()> {
    diesel::update(
        bv::table
            .filter(bv::account_id.eq(account_id))
            .filter(bv::status.eq(VerificationStatus::Pending.as_str())),
    )
    .set((
        bv::status.eq(VerificationStatus::Voided.as_str()),
        bv::resolved_at.eq(now),
    ))
    .execute(c)?;
    Ok(())
}
