//! Authentication: JWTs, argon2 hashing, opaque tokens and the caller extractors.

pub mod extractors;
pub mod hashing;
pub mod jwt;
pub mod opaque;

pub use extractors::{
    note_caller, AnyCaller, AppToken, AppUser, Merchant, MerchantApi, MerchantToken, Operator,
};
