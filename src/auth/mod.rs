//! Authentication: JWTs, argon2 hashing, opaque tokens and who is calling.

pub mod callers;
pub mod hashing;
pub mod jwt;
pub mod opaque;

pub use callers::{AnyCaller, AppToken, AppUser, Merchant, MerchantApi, MerchantToken, Operator};
