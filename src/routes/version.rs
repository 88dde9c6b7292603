//! API versions, dated as Stripe's are: every response carries `PinPay-Version` (the
//! version it was written in); a request may name the version it was written for, and a
//! version this server does not know is refused before anything else happens.

use crate::error::ApiError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;

/// The current version. A change that could break a client gets a new date, and the
/// older dates stay accepted with their old behaviour.
pub const CURRENT: &str = "2026-12-02";
/// Every version this server answers in.
pub const SUPPORTED: &[&str] = &[CURRENT];
pub const HEADER: &str = "pinpay-version";

pub async fn api_version(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let asked = req.headers().get(HEADER).map(|v| v.to_str().unwrap_or(""));
    let refused = asked.filter(|v| !SUPPORTED.contains(v)).map(|v| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_api_version",
            format!(
                "PinPay-Version {v:?} is not one this server knows; supported: {}.",
                SUPPORTED.join(", ")
            ),
        )
        .with("supported", SUPPORTED)
    });
    let mut res = match refused {
        Some(e) => {
            let (req, _) = req.into_parts();
            let res = actix_web::ResponseError::error_response(&e);
            ServiceResponse::new(req, res).map_into_right_body()
        }
        None => next.call(req).await?.map_into_left_body(),
    };
    res.headers_mut().insert(
        HeaderName::from_static(HEADER),
        HeaderValue::from_static(CURRENT),
    );
    Ok(res)
}
