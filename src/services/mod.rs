//! Use cases, grouped by what they serve: each validates with the domain rules and runs
//! one database transaction. The HTTP layer (JSON routes and HTML pages) is a thin layer
//! over them; nothing here imports it.

pub mod context;
pub mod idempotency;
pub mod identity;
pub mod merchants;
pub mod messaging;
pub mod operator;
pub mod payments;
pub mod sandbox;
pub mod wallet;

pub use context::Context;
