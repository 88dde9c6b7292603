//! Use cases: each validates with the domain rules and runs one database transaction.

pub mod accounts;
pub mod api_tokens;
pub mod pins;
pub mod sessions;
