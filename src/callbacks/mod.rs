//! Hash-signed callbacks, the mechanics below the use cases: Standard Webhooks signing,
//! the SSRF guard, the merchant's callback settings as delivery reads them, and claiming
//! due events from the transactional outbox. The worker that delivers them, the log and
//! the merchant's settings changes are use cases (`services::messaging`).

pub mod claim;
pub mod guard;
pub mod settings;
pub mod signing;
