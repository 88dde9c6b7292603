//! JWT issue and verification following RFC 8725: HS256 pinned, one audience per token
//! kind, every registered claim required, expiry judged by the app's clock.

use crate::error::{ApiError, ApiResult};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "pinpay";
const LEEWAY_SECS: i64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Wallet and merchant app sessions.
    App,
    /// Merchant backends (Corporate+ API tokens).
    MerchantApi,
    /// The hosted payment page's login (a cookie, 15 minutes).
    PayPage,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::MerchantApi => "merchant-api",
            Self::PayPage => "pay-page",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// API tokens: the merchant's token generation at issue; older generations are revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gen: Option<i64>,
}

impl Claims {
    pub fn account_id(&self) -> ApiResult<i64> {
        self.sub
            .parse()
            .map_err(|_| ApiError::unauthenticated("The token is not valid."))
    }
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    /// Signs a token for `aud`; returns it with its expiry.
    pub fn issue(
        &self,
        aud: Audience,
        account_id: i64,
        gen: Option<i64>,
        now: DateTime<Utc>,
        ttl_secs: i64,
    ) -> ApiResult<(String, DateTime<Utc>)> {
        let exp = now + Duration::seconds(ttl_secs);
        let claims = Claims {
            iss: ISSUER.into(),
            aud: aud.as_str().into(),
            sub: account_id.to_string(),
            exp: exp.timestamp(),
            iat: now.timestamp(),
            jti: crate::auth::opaque::generate("jti"),
            gen,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal_from("jwt encode", e))?;
        Ok((token, exp))
    }

    /// Verifies signature, algorithm, issuer, audience (one of `accepted`) and times.
    pub fn verify(
        &self,
        token: &str,
        accepted: &[Audience],
        now: DateTime<Utc>,
    ) -> ApiResult<Claims> {
        let invalid =
            || ApiError::unauthenticated("The access token is missing, invalid or expired.");
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = vec![Algorithm::HS256];
        v.set_issuer(&[ISSUER]);
        v.set_audience(&accepted.iter().map(|a| a.as_str()).collect::<Vec<_>>());
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked below against the app clock (tests move it).
        v.validate_exp = false;
        v.leeway = LEEWAY_SECS as u64;
        let claims = decode::<Claims>(token, &self.decoding, &v)
            .map_err(|_| invalid())?
            .claims;
        let now = now.timestamp();
        if now > claims.exp + LEEWAY_SECS || claims.iat > now + LEEWAY_SECS {
            return Err(invalid());
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_is_pinned_per_kind() {
        let keys = JwtKeys::new("0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let (token, _) = keys.issue(Audience::App, 7, None, now, 60).unwrap();
        assert_eq!(keys.verify(&token, &[Audience::App], now).unwrap().sub, "7");
        assert!(keys.verify(&token, &[Audience::MerchantApi], now).is_err());
        assert!(keys
            .verify(&token, &[Audience::App], now + Duration::seconds(66))
            .is_err());
        assert!(keys
            .verify(&token, &[Audience::App], now + Duration::seconds(64))
            .is_ok());
    }
}
