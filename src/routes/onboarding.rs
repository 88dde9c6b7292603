//! The merchant's onboarding: `/v1/me/bank-account…` (verification by the 0.02 EUR
//! payout's code) and `/v1/me/upgrade…` (the Corporate+ application and its documents).

use super::extract::{ApiJson, ClientIp};
use super::upload_guard::{self, Breach};
use crate::auth::{AnyCaller, Merchant};
use crate::db::models::Account;
use crate::domain::onboarding::{too_large, MAX_DOCUMENT_BYTES};
use crate::error::{ApiError, ApiResult};
use crate::services::merchants::documents::Incoming;
use crate::services::merchants::upgrade::{self, DocumentFile};
use crate::services::{merchants::bank_account, merchants::email_confirmation};
use crate::state::AppState;
use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use futures::StreamExt;

pub async fn bank_account(
    state: web::Data<AppState>,
    merchant: Merchant,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(bank_account::view(&state, &merchant.account).await?))
}

pub async fn change_bank_account(
    state: web::Data<AppState>,
    merchant: Merchant,
    client: ClientIp,
    body: ApiJson<bank_account::BankAccountChange>,
) -> ApiResult<HttpResponse> {
    let view = bank_account::change(&state, client.0, &merchant.account, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn request_verification(
    state: web::Data<AppState>,
    merchant: Merchant,
) -> ApiResult<HttpResponse> {
    let view = bank_account::request_verification(&state, &merchant.account).await?;
    Ok(HttpResponse::Created().json(view))
}

pub async fn verify(
    state: web::Data<AppState>,
    merchant: Merchant,
    body: ApiJson<bank_account::CodeEntry>,
) -> ApiResult<HttpResponse> {
    let view = bank_account::verify(&state, &merchant.account, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn email(state: web::Data<AppState>, caller: AnyCaller) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(email_confirmation::view(&state, &caller.account).await?))
}

pub async fn send_email_code(
    state: web::Data<AppState>,
    caller: AnyCaller,
) -> ApiResult<HttpResponse> {
    let view = email_confirmation::send_code(&state, &caller.account).await?;
    Ok(HttpResponse::Accepted().json(view))
}

pub async fn confirm_email(
    state: web::Data<AppState>,
    caller: AnyCaller,
    body: ApiJson<email_confirmation::CodeEntry>,
) -> ApiResult<HttpResponse> {
    let view = email_confirmation::confirm(&state, &caller.account, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn open_application(
    state: web::Data<AppState>,
    merchant: Merchant,
) -> ApiResult<HttpResponse> {
    let (view, created) = upgrade::open(&state, &merchant.account).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(view))
}

pub async fn application(
    state: web::Data<AppState>,
    merchant: Merchant,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(upgrade::current(&state, &merchant.account).await?))
}

pub async fn submit(state: web::Data<AppState>, merchant: Merchant) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(upgrade::submit(&state, &merchant.account).await?))
}

fn bad_form(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_multipart", detail)
}

/// Reads the upload form as it streams in: the text field `kind` first, then one file
/// part `file` (with its file name), written to the database chunk by chunk
/// (`services::merchants::documents`); past 10 MB it is 413 and nothing is kept. Any failure after
/// the document was begun removes it.
async fn upload(
    state: &AppState,
    account: &Account,
    mut form: Multipart,
) -> ApiResult<upgrade::DocumentView> {
    let mut kind: Option<String> = None;
    let mut stored = None;
    while let Some(field) = form.next().await {
        let field = field.map_err(|e| match e {
            actix_multipart::MultipartError::ContentTypeMissing
            | actix_multipart::MultipartError::ContentTypeIncompatible => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Upload documents as multipart/form-data with the fields kind and file.",
            ),
            other => bad_form(format!("the multipart body cannot be read: {other}")),
        });
        let field = match field {
            Ok(f) => f,
            Err(e) => return abort(state, stored, e).await,
        };
        match field.name().unwrap_or_default() {
            "kind" => match read_text(field).await {
                Ok(text) => kind = Some(text),
                Err(e) => return abort(state, stored, e).await,
            },
            "file" if stored.is_none() => {
                let Some(kind) = kind.as_deref() else {
                    return Err(ApiError::invalid_field(
                        "kind",
                        "send the kind field before the file part",
                    ));
                };
                stored = Some(store(state, account, kind, field).await?);
            }
            other => {
                let e = bad_form(format!(
                    "unexpected field {other}; send kind, then one file"
                ));
                return abort(state, stored, e).await;
            }
        }
    }
    match stored {
        Some(doc) => doc.finish(state).await,
        None if kind.is_none() => Err(ApiError::invalid_field(
            "kind",
            "the form needs a kind field",
        )),
        None => Err(ApiError::invalid_field(
            "file",
            "the form needs a file part",
        )),
    }
}

async fn abort<T>(state: &AppState, stored: Option<Incoming>, e: ApiError) -> ApiResult<T> {
    if let Some(doc) = stored {
        doc.abort(state).await;
    }
    Err(e)
}

/// A short text field (at most 100 bytes).
async fn read_text(mut field: actix_multipart::Field) -> ApiResult<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| bad_form(format!("the upload broke off: {e}")))?;
        if bytes.len() + chunk.len() > 100 {
            return Err(bad_form("the field kind is too long"));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| bad_form("the field kind must be text"))
}

/// Streams the file part into a new document: its first bytes tell its type, the rest
/// follows chunk by chunk.
async fn store(
    state: &AppState,
    account: &Account,
    kind: &str,
    mut field: actix_multipart::Field,
) -> ApiResult<Incoming> {
    let filename = field
        .content_disposition()
        .and_then(|d| d.get_filename())
        .unwrap_or_default()
        .to_string();
    let mut head = Vec::new();
    let mut broke = None;
    // A field must not be polled again once it has ended (a file shorter than its head).
    let mut ended = false;
    while head.len() < 16 {
        match field.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(e)) => {
                broke = Some(bad_form(format!("the upload broke off: {e}")));
                break;
            }
            None => {
                ended = true;
                break;
            }
        }
    }
    if let Some(e) = broke {
        return Err(e);
    }
    let mut doc = upgrade::begin_document(state, account, kind, &filename, &head).await?;
    if let Err(e) = doc.append(state, &head).await {
        return abort(state, Some(doc), e).await;
    }
    while let Some(chunk) = if ended { None } else { field.next().await } {
        let done = match chunk {
            Ok(bytes) => doc.append(state, &bytes).await,
            Err(e) => Err(bad_form(format!("the upload broke off: {e}"))),
        };
        if let Err(e) = done {
            return abort(state, Some(doc), e).await;
        }
    }
    Ok(doc)
}

/// `POST /v1/me/upgrade/documents`: the body passes `upload_guard` (size, part headers,
/// pace) before the multipart parser reads it.
pub async fn upload_document(
    state: web::Data<AppState>,
    merchant: Merchant,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let multipart = content_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"));
    if !multipart {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Upload documents as multipart/form-data with the fields kind and file.",
        ));
    }
    let boundary = upload_guard::boundary(content_type)
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(|| bad_form("the multipart boundary is missing"))?;
    let idle = state
        .connections
        .body_deadline(std::time::Duration::from_millis(
            state.config.body_timeout_ms,
        ));
    let (body, breach) = upload_guard::guard(payload, &boundary, MAX_UPLOAD_BYTES, idle);
    let form = Multipart::new(req.headers(), body);
    let uploaded = upload(&state, &merchant.account, form).await;
    let view = uploaded.map_err(|e| match breach.get() {
        Some(Breach::TooLarge) => too_large(),
        Some(Breach::HeaderTooLong) => bad_form("a part's header is longer than 8 KiB"),
        Some(Breach::TooSlow) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The upload paused too long or took longer than two minutes.",
        ),
        None => e,
    })?;
    Ok(HttpResponse::Created().json(view))
}

/// A document and the form around it.
const MAX_UPLOAD_BYTES: usize = MAX_DOCUMENT_BYTES + 64 * 1024;

pub async fn document(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let file = upgrade::own_document(&state, &merchant.account, id.into_inner()).await?;
    Ok(document_response(file))
}

/// A stored document as a download: never rendered by the browser in PinPay's origin.
pub fn document_response((filename, content_type, content): DocumentFile) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "sandbox; default-src 'none'"))
        .insert_header(("Cache-Control", "private, no-store"))
        .body(content)
}
