//! Black-box tests: every test starts its own server and database and talks HTTP.

mod helpers;

mod accounts;
mod auth;
mod operations;
mod pins;
