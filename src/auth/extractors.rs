//! Who may call a handler, said by its signature: `AppUser`, `MerchantApi`, `AnyCaller`
//! or `Operator`. Each verifies the bearer credential and loads the account.

use super::jwt::{Audience, Claims};
use super::opaque::constant_time_eq;
use crate::db::accounts;
use crate::db::models::Account;
use crate::domain::account::AccountKind;
use crate::error::ApiError;
use crate::services::api_tokens;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::HttpMessage;
use actix_web::{http::header, web, FromRequest, HttpRequest};
use std::future::Future;
use std::pin::Pin;

/// A wallet or merchant app session (`aud` = `app`).
pub struct AppUser {
    pub account: Account,
}

/// A merchant backend holding a current Corporate+ API token (`aud` = `merchant-api`).
pub struct MerchantApi {
    pub account: Account,
}

/// Either of the above, for routes both may call.
pub struct AnyCaller {
    pub account: Account,
    pub audience: Audience,
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

/// Verifies the token for the accepted audiences and loads a live account.
async fn authenticate(
    req: HttpRequest,
    accepted: &'static [Audience],
) -> Result<AnyCaller, ApiError> {
    let state = state(&req)?;
    let token = bearer(&req)?;
    let claims: Claims = state.jwt.verify(&token, accepted, state.clock.now())?;
    let audience = if claims.aud == Audience::MerchantApi.as_str() {
        Audience::MerchantApi
    } else {
        Audience::App
    };
    let id = claims.account_id()?;
    let account = state
        .db
        .run(move |c| Ok(accounts::find(c, id)?))
        .await?
        .ok_or_else(revoked)?;
    let kind = AccountKind::from_db(&account.kind);
    if kind == AccountKind::System {
        return Err(revoked());
    }
    if audience == Audience::MerchantApi {
        if kind != AccountKind::CorporatePlus {
            return Err(revoked());
        }
        match claims.gen {
            Some(generation) if generation == account.api_token_generation => {}
            // An earlier token: valid only inside the grace period a newer one gave it.
            Some(generation) if generation < account.api_token_generation => {
                let now = state.clock.now_naive();
                let valid = state
                    .db
                    .run(move |c| api_tokens::earlier_still_valid(c, id, generation, now))
                    .await?;
                if !valid {
                    return Err(revoked());
                }
            }
            _ => return Err(revoked()),
        }
    }
    // For the request log line.
    req.extensions_mut().insert(CallerId(account.id));
    Ok(AnyCaller { account, audience })
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
}

impl Merchant {
    pub fn via_api(&self) -> bool {
        self.audience == Audience::MerchantApi
    }
}

impl FromRequest for Merchant {
    type Error = ApiError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(req, &[Audience::App, Audience::MerchantApi]).await?;
            if !AccountKind::from_db(&caller.account.kind).is_merchant() {
                return Err(ApiError::forbidden(
                    "merchant_only",
                    "Only merchant accounts may do this.",
                ));
            }
            Ok(Self {
                account: caller.account,
                audience: caller.audience,
            })
        })
    }
}
