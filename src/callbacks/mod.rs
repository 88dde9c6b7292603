//! Hash-signed callbacks: Standard Webhooks signing, the SSRF guard, the merchant's
//! callback settings, and the delivery worker reading the transactional outbox.

pub mod claim;
pub mod guard;

pub mod settings;
pub mod signing;
