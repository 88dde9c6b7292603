//! `ApiJson<T>`: the JSON body extractor. Parsing in two steps tells malformed JSON
//! (400 `malformed_json`) from valid JSON that breaks the schema (422 `invalid_body`),
//! which serde_json alone does not always do (a number where an enum is expected is
//! reported as a syntax error).

use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

pub const BODY_LIMIT: usize = 256 * 1024;
const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub struct ApiJson<T> {
    value: T,
    /// The body as parsed JSON: the request fingerprint for idempotency keys.
    pub raw: serde_json::Value,
}

impl<T> ApiJson<T> {
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
        let bytes = Bytes::from_request(req, payload);
        let limit = req
            .app_data::<actix_web::web::Data<crate::state::AppState>>()
            .map_or(DEFAULT_BODY_TIMEOUT, |s| {
                // Shorter while the connection slots run low.
                s.connections
                    .body_deadline(std::time::Duration::from_millis(s.config.body_timeout_ms))
            });
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the body as application/json.",
                ));
            }
            // A body sent too slowly is cut off: slow senders must not hold connections.
            let bytes = tokio::time::timeout(limit, bytes)
                .await
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "request_timeout",
                        "The body did not arrive in time.",
                    )
                })?
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "The body is too large.",
                    )
                })?;
            parse(&bytes)
        })
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<ApiJson<T>, ApiError> {
    let raw: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|_| ApiError::bad_request("malformed_json", "The body is not valid JSON."))?;
    // Every body is an object; serde would also take an array for a struct whose fields
    // are all optional.
    if !raw.is_object() {
        return Err(ApiError::unprocessable(
            "invalid_body",
            "The body must be a JSON object.",
        ));
    }
    let value = serde_json::from_value(raw.clone()).map_err(|e| {
        ApiError::unprocessable(
            "invalid_body",
            format!("The body does not match the schema: {e}"),
        )
    })?;
    Ok(ApiJson { value, raw })
}

/// The optional `Idempotency-Key` header: 1 to 255 visible ASCII characters.
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let value = req.headers().get("idempotency-key").map(|v| {
            v.to_str()
                .ok()
                .filter(|k| {
                    (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
                })
                .map(str::to_string)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_idempotency_key",
                        "Idempotency-Key must be 1 to 255 visible ASCII characters.",
                    )
                })
        });
        std::future::ready(value.transpose().map(IdempotencyKey))
    }
}

/// The client's address: the TCP peer (a proxy in front must pass its own limits; the
/// `Forwarded` headers are not trusted, since any client can send them).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(ClientIp(req.peer_addr().map(|a| a.ip()))))
    }
}
