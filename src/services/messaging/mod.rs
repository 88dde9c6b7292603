//! What goes out: the outbox of callback events, the callback delivery worker and its log, callback settings, and e-mail to account holders.

pub mod callback_log;
pub mod callback_settings;
pub mod delivery;
pub mod notifications;
pub mod outbox;
pub mod push;
