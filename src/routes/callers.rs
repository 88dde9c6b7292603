//! Who may call a handler, said by its signature: the HTTP side of `auth::callers`. Each
//! extractor reads the bearer credential, verifies it and (for the account-loading ones)
//! admits its live account in one database turn.

use crate::auth::callers::{
    merchant_only, AnyCaller, AppToken, AppUser, Merchant, MerchantApi, MerchantToken, Operator,
    VerifiedToken,
};
use crate::auth::jwt::Audience;
use crate::auth::opaque::constant_time_eq;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::HttpMessage;
use actix_web::{http::header, web, FromRequest, HttpRequest};
use std::future::Future;
use std::pin::Pin;

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

fn verified(req: &HttpRequest, accepted: &'static [Audience]) -> Result<VerifiedToken, ApiError> {
    let state = state(req)?;
    VerifiedToken::verify(&state.jwt, &bearer(req)?, accepted, state.clock.now())
}

/// Verifies the token for the accepted audiences and loads a live account (one
/// database turn).
async fn authenticate(
    req: HttpRequest,
    accepted: &'static [Audience],
) -> Result<AnyCaller, ApiError> {
    let state = state(&req)?;
    let token = verified(&req, accepted)?;
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

impl FromRequest for MerchantToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(verified(req, &[Audience::App, Audience::MerchantApi]).map(Self))
    }
}

impl FromRequest for AppToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(verified(req, &[Audience::App]).map(Self))
    }
}
