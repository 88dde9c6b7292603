//! Push notifications to wallets: the subscriptions a wallet's browsers (or native apps
//! speaking Web Push) register, and the messages queued for them in the transaction that
//! decided them (a request addressed to the wallet, its final status, money received).
//! Delivery goes through the notification queue (`notifications`, kind `push`): claimed
//! under a lease so several instances push once, retried, and a subscription the push
//! service calls gone is removed.

use crate::callbacks::guard;
use crate::db::schema::push_subscriptions as ps;
use crate::db::{write_tx, DbConn};
use crate::domain::i18n::Lang;
use crate::error::{ApiError, ApiResult};
use crate::notify::push::valid_keys;
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// Subscriptions one wallet may hold (a few devices and browsers).
const MAX_PER_WALLET: i64 = 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionKeys {
    pub p256dh: String,
    pub auth: String,
}

/// A `PushSubscription` as the browser serialises it (`subscription.toJSON()`).
#[derive(Deserialize)]
pub struct NewSubscription {
    pub endpoint: String,
    pub keys: SubscriptionKeys,
    #[serde(default, rename = "expirationTime")]
    pub _expiration_time: Option<serde_json::Value>,
    /// The language of its notifications (`en`, `de`, `fr`, `he`; default `en`).
    #[serde(default)]
    pub language: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsubscribe {
    pub endpoint: String,
}

#[derive(Serialize, Debug)]
pub struct SubscriptionView {
    pub object: &'static str,
    pub endpoint: String,
    pub created_at: String,
}

/// What a notification says and where tapping it leads.
#[derive(Serialize, Debug, Clone)]
pub struct Push {
    pub title: String,
    pub body: String,
    /// The app's page it opens (`/app/requests/mr_…`).
    pub url: String,
    /// Replaces an earlier notification with the same tag (one per request).
    pub tag: String,
}

/// Registers (or moves to this wallet) the browser's subscription.
pub async fn subscribe(
    state: &Context,
    account_id: i64,
    s: NewSubscription,
) -> ApiResult<SubscriptionView> {
    let endpoint = guard::check_url(&s.endpoint, state.config.callback_allow_private)
        .map_err(|why| ApiError::invalid_field("endpoint", format!("endpoint {why}")))?
        .to_string();
    if !valid_keys(&s.keys.p256dh, &s.keys.auth) {
        return Err(ApiError::invalid_field(
            "keys",
            "keys.p256dh must be a P-256 point and keys.auth 16 bytes, both base64url",
        ));
    }
    let language = match s.language.as_deref() {
        None => Lang::En,
        Some(code) => Lang::from_code(code).ok_or_else(|| {
            ApiError::invalid_field("language", "language must be one of en, de, fr, he")
        })?,
    };
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                // The same browser signed in as another wallet before: it is this one's now.
                diesel::delete(ps::table.filter(ps::endpoint.eq(&endpoint))).execute(c)?;
                let held: i64 = ps::table
                    .filter(ps::account_id.eq(account_id))
                    .count()
                    .get_result(c)?;
                if held >= MAX_PER_WALLET {
                    return Err(ApiError::conflict(
                        "push_subscription_limit",
                        format!("A wallet holds at most {MAX_PER_WALLET} push subscriptions; remove one first."),
                    ));
                }
                diesel::insert_into(ps::table)
                    .values((
                        ps::account_id.eq(account_id),
                        ps::endpoint.eq(&endpoint),
                        ps::p256dh.eq(&s.keys.p256dh),
                        ps::auth.eq(&s.keys.auth),
                        ps::language.eq(language.code()),
                        ps::created_at.eq(now),
                    ))
                    .execute(c)?;
                Ok(SubscriptionView {
                    object: "push_subscription",
                    endpoint: endpoint.clone(),
                    created_at: crate::domain::time::rfc3339(now),
                })
            })
        })
        .await
}

/// Removes the wallet's subscription with `endpoint` (404 if it has none).
pub async fn unsubscribe(state: &Context, account_id: i64, endpoint: String) -> ApiResult<()> {
    state
        .db
        .run(move |c| {
            let gone = diesel::delete(
                ps::table
                    .filter(ps::account_id.eq(account_id))
                    .filter(ps::endpoint.eq(&endpoint)),
            )
            .execute(c)?;
            if gone == 0 {
                return Err(ApiError::not_found(
                    "This wallet has no such push subscription.",
                ));
            }
            Ok(())
        })
        .await
}

/// The wallet's subscriptions, oldest first.
pub async fn list(state: &Context, account_id: i64) -> ApiResult<Vec<SubscriptionView>> {
    state
        .db
        .run(move |c| {
            let rows: Vec<(String, NaiveDateTime)> = ps::table
                .filter(ps::account_id.eq(account_id))
                .order(ps::id.asc())
                .select((ps::endpoint, ps::created_at))
                .load(c)?;
            Ok(rows
                .into_iter()
                .map(|(endpoint, at)| SubscriptionView {
                    object: "push_subscription",
                    endpoint,
                    created_at: crate::domain::time::rfc3339(at),
                })
                .collect())
        })
        .await
}

/// Whether the wallet has any push subscription (the app's settings say so).
pub fn subscribed(c: &mut DbConn, account_id: i64) -> ApiResult<bool> {
    Ok(ps::table
        .filter(ps::account_id.eq(account_id))
        .count()
        .get_result::<i64>(c)?
        > 0)
}

/// Queues a push for every subscription of the wallet, each in its language (`compose`
/// writes it), in the caller's transaction. A wallet without subscriptions costs one
/// indexed read.
pub fn queue(
    c: &mut DbConn,
    account_id: i64,
    compose: impl Fn(&mut DbConn, Lang) -> ApiResult<Push>,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let subscriptions: Vec<(i64, String)> = ps::table
        .filter(ps::account_id.eq(account_id))
        .select((ps::id, ps::language))
        .load(c)?;
    for (id, language) in subscriptions {
        let push = compose(c, Lang::from_code(&language).unwrap_or(Lang::En))?;
        let payload = serde_json::to_string(&push).map_err(|_| ApiError::internal())?;
        super::notifications::queue(
            c,
            account_id,
            super::notifications::PUSH,
            &id.to_string(),
            &push.title,
            &payload,
            now,
        )?;
    }
    Ok(())
}
