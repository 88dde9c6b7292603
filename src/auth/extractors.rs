//! Who may call a handler, said by its signature: `AppUser`, `MerchantApi`, `AnyCaller`,
//! `Merchant` or `Operator`. Each verifies the bearer credential and loads the account;
//! `MerchantToken` and `AppToken` verify it and leave the loading to the service's
//! database turn.

use super::jwt::{Audience, Claims};
use super::opaque::constant_time_eq;
use crate::db::accounts;
use crate::db::models::Account;
use crate::db::DbConn;
use crate::domain::account::AccountKind;
use crate::error::{ApiError, ApiResult};
use crate::services::api_tokens;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::HttpMessage;
use actix_web::{http::header, web, FromRequest, HttpRequest};
use chrono::NaiveDateTime;
use std::future::Future;
use std::pin::Pin;

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

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(ApiError::internal)
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthenticated("An Authorization: Bearer token is required."))
}

fn revoked() -> ApiError {
    ApiError::unauthenticated("The access token is missing, invalid or expired.")
}

/// A bearer token verified (signature, expiry, audience), its account not loaded yet.
#[derive(Clone)]
pub struct VerifiedToken {
    claims: Claims,
    audience: Audience,
}

impl VerifiedToken {
    fn of(req: &HttpRequest, accepted: &'static [Audience]) -> Result<Self, ApiError> {
        let state = state(req)?;
        let claims: Claims = state
            .jwt
            .verify(&bearer(req)?, accepted, state.clock.now())?;
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
    fn check(
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
                    if !api_tokens::earlier_still_valid(c, id, generation, now)? {
                        return Err(revoked());
                    }
                }
                _ => return Err(revoked()),
            }
        }
        Ok(account)
    }
}

/// Verifies the token for the accepted audiences and loads a live account (one
/// database turn).
async fn authenticate(
    req: HttpRequest,
    accepted: &'static [Audience],
) -> Result<AnyCaller, ApiError> {
    let state = state(&req)?;
    let token = VerifiedToken::of(&req, accepted)?;
    let (audience, expires_at, generation) = (token.audience, token.claims.exp, token.claims.gen);
    let now = state.clock.now_naive();
    let account = state.db.run(move |c| token.admit(c, now)).await?;
    note_caller(&req, account.id);
    Ok(AnyCaller {
        account,
        audience,
        expires_at,
        generation,
    })
}

/// Keeps the authenticated account in the request's extensions, for the request log line.
pub fn note_caller(req: &HttpRequest, account_id: i64) {
    req.extensions_mut().insert(CallerId(account_id));
}

/// The authenticated account of a request, kept in its extensions for the request log.
#[derive(Clone, Copy)]
pub struct CallerId(pub i64);

impl FromRequest for AppUser {
    type Error = ApiError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(req, &[Audience::App]).await?;
            Ok(Self {
                account: caller.account,
                expires_at: caller.expires_at,
            })
        })
    }
}

impl FromRequest for MerchantApi {
    type Error = ApiError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(req, &[Audience::MerchantApi]).await?;
            Ok(Self {
                account: caller.account,
            })
        })
    }
}

impl FromRequest for AnyCaller {
    type Error = ApiError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(req, &[Audience::App, Audience::MerchantApi]).await })
    }
}

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready((|| {
            let state = state(req)?;
            let Some(expected) = state.config.admin_token.as_ref() else {
                return Err(ApiError::forbidden(
                    "operator_api_disabled",
                    "The operator API is disabled (PINPAY_ADMIN_TOKEN is not set).",
                ));
            };
            let given = bearer(req)?;
            if constant_time_eq(&given, expected.expose()) {
                Ok(Operator)
            } else {
                Err(ApiError::unauthenticated(
                    "The operator token is not valid.",
                ))
            }
        })())
    }
}

/// A merchant (Corporate or Corporate+) by API token or by app session (counter sales).
pub struct Merchant {
    pub account: Account,
    pub audience: Audience,
    generation: Option<i64>,
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
fn merchant_only(account: &Account) -> Result<(), ApiError> {
    if AccountKind::from_db(&account.kind).is_merchant() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "merchant_only",
            "Only merchant accounts may do this.",
        ))
    }
}

impl FromRequest for Merchant {
    type Error = ApiError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(req, &[Audience::App, Audience::MerchantApi]).await?;
            merchant_only(&caller.account)?;
            Ok(Self {
                account: caller.account,
                audience: caller.audience,
                generation: caller.generation,
            })
        })
    }
}

/// A merchant's verified token whose account is loaded in the service's own database
/// turn (`admit`), for the hottest read (a money request's status): one turn instead
/// of two. The same rules as `Merchant`.
pub struct MerchantToken(VerifiedToken);

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

impl FromRequest for MerchantToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            VerifiedToken::of(req, &[Audience::App, Audience::MerchantApi]).map(Self),
        )
    }
}

/// An app session's verified token (`aud` = `app`) whose account is admitted on the row
/// the service reads in its own database turn: an approval admits it on the wallet row
/// its PIN check locks. The same rules as `AppUser`.
#[derive(Clone)]
pub struct AppToken(VerifiedToken);

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

impl FromRequest for AppToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(VerifiedToken::of(req, &[Audience::App]).map(Self))
    }
}
