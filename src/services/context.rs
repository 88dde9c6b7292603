//! What every use case is given: the database, the configuration, the clock, the keys
//! and hashers, the tier table and calendar, the wakers of the workers and the metrics.
//! The HTTP layer's `Context` holds one; nothing below the use cases sees either.

use crate::auth::hashing::Hasher;
use crate::auth::jwt::JwtKeys;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::domain::calendar::Calendar;
use crate::domain::tiers::TierTable;
use std::sync::Arc;

#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub jwt: Arc<JwtKeys>,
    pub hasher: Hasher,
    pub tiers: Arc<TierTable>,
    pub calendar: Calendar,
    pub pin_gate: crate::services::identity::pins::PinGate,
    /// Fired when a payment link is queued for sending (see `services::payments::link_sends`).
    pub sends_wake: Arc<tokio::sync::Notify>,
    /// Fired when an e-mail is queued for the account holder (see `services::messaging::notifications`).
    pub notifications_wake: Arc<tokio::sync::Notify>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Outgoing calls to providers and gateways (redirects are not followed).
    pub http: reqwest::Client,
    /// The WebAuthn relying party (passkeys), for `config.public_url`.
    pub webauthn: Arc<webauthn_rs::prelude::Webauthn>,
}
