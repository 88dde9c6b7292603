//! The HTML layer: the hosted payment page. One more thin layer over the same services
//! as the JSON API (`services::links`, `requests::approval`), with its own security:
//! a per-response CSP nonce, CSRF tokens, and short SameSite=Strict session cookies.

pub mod i18n;
