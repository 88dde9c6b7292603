//! Who is calling: `AppUser`, `MerchantApi`, `AnyCaller`, `Merchant` or `Operator`, each
//! an authenticated account; `MerchantToken` and `AppToken` are verified tokens whose
//! account the use case loads in its own database turn. The rules live here; the HTTP
//! layer extracts them from requests (`routes::callers`).

use super::jwt::JwtKeys;
use super::jwt::{Audience, Claims};
use crate::db::accounts;
use crate::db::models::Account;
use crate::db::DbConn;
use crate::domain::account::AccountKind;
use crate::error::{ApiError, ApiResult};
use chrono::NaiveDateTime;

/// A wallet or merchant app session (`aud` = `app`).
pub struct AppUser {
    pub account: Account,
    /// When the session's access token expires (unix seconds): a long-lived stream ends then.
    pub expires_at: i64,
}

/// A merchant backend holding a current Corporate+ API token (`aud` = `merchant-api`).
pub struct MerchantApi {
    pub account: Account,
}

/// Either of the above, for routes both may call.
pub struct AnyCaller {
    pub account: Account,
    pub audience: Audience,
    pub expires_at: i64,
    /// An API token's generation (older ones live on in a grace period).
    pub generation: Option<i64>,
}

impl AnyCaller {
    /// An older API token still inside the grace period a newer one gave it.
    pub fn superseded(&self) -> bool {
        self.audience == Audience::MerchantApi
            && self
                .generation
                .is_some_and(|g| g < self.account.api_token_generation)
    }
}

/// The operator, authenticated by `PINPAY_ADMIN_TOKEN`.
pub struct Operator;

pub fn revoked() -> ApiError {
    ApiError::unauthenticated("The access token is missing, invalid or expired.")
}

/// A bearer token verified (signature, expiry, audience), its account not loaded yet.
#[derive(Clone)]
pub struct VerifiedToken {
    pub claims: Claims,
    pub audience: Audience,
}

impl VerifiedToken {
    /// The bearer token verified for the accepted audiences (signature, expiry, audience).
    pub fn verify(
        jwt: &JwtKeys,
        bearer: &str,
        accepted: &'static [Audience],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, ApiError> {
        let claims: Claims = jwt.verify(bearer, accepted, now)?;
        let audience = if claims.aud == Audience::MerchantApi.as_str() {
            Audience::MerchantApi
        } else {
            Audience::App
        };
        Ok(Self { claims, audience })
    }

    /// The token's live account, in the caller's database turn: it exists and is not a
    /// system account; an API token is a Corporate+ account's current one, or an earlier
    /// one inside the grace period a newer one gave it.
    pub fn admit(&self, c: &mut DbConn, now: NaiveDateTime) -> ApiResult<Account> {
        let account = accounts::find(c, self.claims.account_id()?)?;
        self.check(c, account, now)
    }

    /// The same rules for an account the caller read itself (`None`: no such account).
    pub fn check(
        &self,
        c: &mut DbConn,
        account: Option<Account>,
        now: NaiveDateTime,
    ) -> ApiResult<Account> {
        let account = account.ok_or_else(revoked)?;
        let id = account.id;
        let kind = AccountKind::from_db(&account.kind);
        if kind == AccountKind::System {
            return Err(revoked());
        }
        if self.audience == Audience::MerchantApi {
            if kind != AccountKind::CorporatePlus {
                return Err(revoked());
            }
            match self.claims.gen {
                Some(generation) if generation == account.api_token_generation => {}
                Some(generation) if generation < account.api_token_generation => {
                    if !accounts::api_token_in_grace(c, id, generation, now)? {
                        return Err(revoked());
                    }
                }
                _ => return Err(revoked()),
            }
        }
        Ok(account)
    }
}

/// A merchant (Corporate or Corporate+) by API token or by app session (counter sales).
pub struct Merchant {
    pub account: Account,
    pub audience: Audience,
    pub generation: Option<i64>,
}

impl Merchant {
    pub fn via_api(&self) -> bool {
        self.audience == Audience::MerchantApi
    }

    /// The merchant behind a verified Corporate+ API token.
    pub fn from_api(api: MerchantApi) -> Self {
        Self {
            account: api.account,
            audience: Audience::MerchantApi,
            generation: None,
        }
    }

    /// An older API token still inside the grace period a newer one gave it: it works,
    /// but may not revoke tokens (a leaked old key must not lock out the new one).
    pub fn superseded(&self) -> bool {
        self.via_api()
            && self
                .generation
                .is_some_and(|g| g < self.account.api_token_generation)
    }
}

/// Merchants only (Corporate or Corporate+).
pub fn merchant_only(account: &Account) -> Result<(), ApiError> {
    if AccountKind::from_db(&account.kind).is_merchant() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "merchant_only",
            "Only merchant accounts may do this.",
        ))
    }
}

/// A merchant's verified token whose account is loaded in the service's own database
/// turn (`admit`), for the hottest read (a money request's status): one turn instead
/// of two. The same rules as `Merchant`.
pub struct MerchantToken(pub VerifiedToken);

impl MerchantToken {
    pub fn admit(&self, c: &mut DbConn, now: NaiveDateTime) -> ApiResult<Account> {
        let account = self.0.admit(c, now)?;
        merchant_only(&account)?;
        Ok(account)
    }

    /// Admits the caller from an account that `read` loads together with what the
    /// service needs (one statement, one round trip): `read` gets the token's account
    /// id and returns that account, if any, and its data.
    pub fn admit_reading<T>(
        &self,
        c: &mut DbConn,
        now: NaiveDateTime,
        read: impl FnOnce(&mut DbConn, i64) -> ApiResult<Option<(Account, T)>>,
    ) -> ApiResult<(Account, T)> {
        let (account, data) = read(c, self.0.claims.account_id()?)?.unzip();
        let account = self.0.check(c, account, now)?;
        merchant_only(&account)?;
        Ok((account, data.ok_or_else(revoked)?))
    }
}

/// An app session's verified token (`aud` = `app`) whose account is admitted on the row
/// the service reads in its own database turn: an approval admits it on the wallet row
/// its PIN check locks. The same rules as `AppUser`.
#[derive(Clone)]
pub struct AppToken(pub VerifiedToken);

impl AppToken {
    pub fn account_id(&self) -> ApiResult<i64> {
        self.0.claims.account_id()
    }

    /// Admits the caller from its account's row as the service read it (`None`: gone).
    pub fn admit_row(
        &self,
        c: &mut DbConn,
        row: Option<Account>,
        now: NaiveDateTime,
    ) -> ApiResult<Account> {
        self.0.check(c, row, now)
    }
}
