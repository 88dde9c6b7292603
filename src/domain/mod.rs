//! Pure rules: validation newtypes and account kinds. No I/O here.

pub mod account;
pub mod bank;
pub mod calendar;
pub mod contact;
pub mod fx;
pub mod i18n;
pub mod input;
pub mod money;
pub mod onboarding;
pub mod pin_attempts;
pub mod pin_tag;
pub mod reload;
pub mod requests;
pub mod sca;
pub mod secrets;
pub mod status;
pub mod throttle;
pub mod tiers;
pub mod time;
