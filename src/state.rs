//! What every handler and extractor shares: database, configuration, clock, keys.

use crate::auth::hashing::Hasher;
use crate::auth::jwt::JwtKeys;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::domain::calendar::Calendar;
use crate::domain::tiers::TierTable;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub jwt: Arc<JwtKeys>,
    pub hasher: Hasher,
    pub tiers: Arc<TierTable>,
    pub calendar: Calendar,
    pub pin_gate: crate::services::pins::PinGate,
    /// Fired when a payment link is queued for sending (see `services::link_sends`).
    pub sends_wake: Arc<tokio::sync::Notify>,
    /// Fired when an e-mail is queued for the account holder (see `services::notifications`).
    pub notifications_wake: Arc<tokio::sync::Notify>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Outgoing calls to providers and gateways (redirects are not followed).
    pub http: reqwest::Client,
    /// The connection slots (caps per client address, deadlines under pressure).
    pub connections: crate::connections::Gate,
    /// The caps on event streams.
    pub streams: crate::web::stream_gate::StreamGate,
}
