//! Who someone is: registration and passwords, app sessions, PINs and the throttle on guessing.

pub mod accounts;
pub mod pins;
pub mod sessions;
pub mod throttle;
