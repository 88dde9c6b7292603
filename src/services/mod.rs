//! Use cases: each validates with the domain rules and runs one database transaction.

pub mod accounts;
pub mod api_tokens;
pub mod audit;
pub mod balance_alerts;
pub mod bank_account;
pub mod deposits;
pub mod documents;
pub mod fx;
pub mod idempotency;
pub mod invoices;
pub mod limits;
pub mod link_sends;
pub mod links;
pub mod notifications;
pub mod outbox;
pub mod payouts;
pub mod pins;
pub mod reload_providers;
pub mod reloads;
pub mod requests;
pub mod sandbox;
pub mod sessions;
pub mod statements;
pub mod throttle;
pub mod transfers;
pub mod upgrade;
