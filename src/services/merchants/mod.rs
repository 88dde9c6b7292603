//! Merchant onboarding and set-up: the e-mail address and bank account confirmed, the Corporate+ application with its documents, API tokens.

pub mod api_tokens;
pub mod bank_account;
pub mod documents;
pub mod email_confirmation;
pub mod review;
pub mod tiers;
pub mod upgrade;
