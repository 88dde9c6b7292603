//! PinPay: a wallet money-request API server (library crate; `main.rs` is a thin CLI).

pub mod auth;
pub mod callbacks;
pub mod clock;
pub mod config;
pub mod connections;
pub mod db;
pub mod demo;
pub mod documents;
pub mod domain;
pub mod error;
pub mod ledger;
pub mod metrics;
pub mod notify;
pub mod problems;
pub mod routes;
pub mod services;
pub mod startup;
pub mod state;
pub mod web;
