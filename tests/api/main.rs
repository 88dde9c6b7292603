//! Black-box tests: every test starts its own server and database and talks HTTP.

mod helpers;

mod expiry;
mod idempotency;

mod accounts;
mod acquirer;
mod alerts;
mod app_browser;
mod auth;
mod browser;
mod callbacks;
mod connections;
mod crash;
mod delivery;
mod demo;
mod docs;
mod ledger;
mod limits;
mod links;
mod metrics;
mod onboarding;
mod operations;
mod outage;
mod passkeys;
mod pin_keys;
mod pins;
mod process;
mod push;
mod receiver;
mod reloads;
mod requests;
mod sandbox;
mod settings;
mod shutdown;
mod smtp;
mod statements;
mod streams;
mod throttle;
mod tokens;
mod wallet_app;
