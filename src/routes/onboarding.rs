//! The merchant's onboarding: `/v1/me/bank-account…` (verification by the 0.02 EUR
//! payout's code) and `/v1/me/upgrade…` (the Corporate+ application and its documents).

use super::extract::{ApiJson, ClientIp};
use crate::auth::Merchant;
use crate::domain::onboarding::{too_large, MAX_DOCUMENT_BYTES};
use crate::error::{ApiError, ApiResult};
use crate::services::bank_account;
use crate::services::upgrade::{self, DocumentFile, Upload};
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

/// Reads the upload form: a text field `kind` and one file part `file` (with its file
/// name). The file is read to 10 MB and one byte; more is 413 without storing anything.
async fn read_upload(mut form: Multipart) -> ApiResult<Upload> {
    let (mut kind, mut file) = (None, None);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| match e {
            actix_multipart::MultipartError::ContentTypeMissing
            | actix_multipart::MultipartError::ContentTypeIncompatible => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Upload documents as multipart/form-data with the fields kind and file.",
            ),
            other => bad_form(format!("the multipart body cannot be read: {other}")),
        })?;
        let name = field.name().unwrap_or_default().to_string();
        let filename = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_string);
        let limit = if name == "file" {
            MAX_DOCUMENT_BYTES
        } else {
            100
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| bad_form(format!("the upload broke off: {e}")))?;
            if bytes.len() + chunk.len() > limit {
                return Err(if name == "file" {
                    too_large()
                } else {
                    bad_form(format!("the field {name} is too long"))
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "kind" => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| bad_form("the field kind must be text"))?;
                kind = Some(text);
            }
            "file" => file = Some((filename.unwrap_or_default(), bytes)),
            other => {
                return Err(bad_form(format!(
                    "unknown field {other}; send kind and file"
                )))
            }
        }
    }
    let kind =
        kind.ok_or_else(|| ApiError::invalid_field("kind", "the form needs a kind field"))?;
    let (filename, content) =
        file.ok_or_else(|| ApiError::invalid_field("file", "the form needs a file part"))?;
    Ok(Upload {
        kind,
        filename,
        content,
    })
}

pub async fn upload_document(
    state: web::Data<AppState>,
    merchant: Merchant,
    form: Multipart,
) -> ApiResult<HttpResponse> {
    let upload = read_upload(form).await?;
    let view = upgrade::add_document(&state, &merchant.account, upload).await?;
    Ok(HttpResponse::Created().json(view))
}

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
