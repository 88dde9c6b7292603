//! Who someone is: registration and passwords, app sessions, PINs, passkeys and the throttle
//! on guessing.

pub mod accounts;
pub mod passkeys;
pub mod pins;
pub mod sessions;
pub mod throttle;
pub mod web_sessions;
