//! Prepaid money: every posting with its reactions (`money`), transfers, payouts, deposits, top-ups and auto-reload, low-balance alerts, limits, statements and fee invoices.

pub mod auto_reload;
pub mod balance_alerts;
pub mod deposits;
pub mod invoices;
pub mod limits;
pub mod money;
pub mod payouts;
pub mod reload_confirmations;
pub mod reload_providers;
pub mod reload_worker;
pub mod reloads;
pub mod statements;
pub mod transfers;
