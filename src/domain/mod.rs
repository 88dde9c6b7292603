//! Pure rules: validation newtypes and account kinds. No I/O here.

pub mod account;
pub mod bank;
pub mod pin_attempts;
