//! Live status as Server-Sent Events: `GET /pay/{id}/events` for the hosted page and
//! `GET /v1/wallet/events` for the wallet app. A stream is woken by the change feed
//! (`db::changes`: NOTIFY across instances on PostgreSQL, in process on SQLite) and then
//! reads the truth from the database; a slow fallback poll covers a lost wake-up.

use crate::auth::AppUser;
use crate::domain::status::RequestStatus;
use crate::error::ApiError;
use crate::services::{payments::links, payments::requests::approval};
use crate::state::AppState;
use crate::web::stream_gate::Pass;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

/// How often a stream looks at the database without being woken (and sends a
/// keep-alive comment).
const FALLBACK_POLL: Duration = Duration::from_secs(5);

/// The first line of every stream: how long the client waits before it reconnects
/// when the stream ends (at its lifetime's end, or when the instance stops).
const RETRY: &str = "retry: 3000\n";

/// A place for a stream of `subject` (caps per instance, client address and subject).
fn enter(state: &AppState, req: &HttpRequest, subject: String) -> Result<Pass, ApiError> {
    let address = req.peer_addr().map(|a| a.ip());
    state.streams.enter(address, subject)
}

/// A stream's refusal, as an answer that closes its connection.
fn refused(e: ApiError) -> HttpResponse {
    let mut res = actix_web::ResponseError::error_response(&e);
    res.head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    res
}

/// When a stream opened now ends: after the configured lifetime, or at `cap`.
fn lifetime(state: &AppState, cap: Option<Duration>) -> Instant {
    let life = Duration::from_secs(state.config.stream_lifetime_secs);
    Instant::now() + cap.map_or(life, |c| c.min(life))
}

/// The streaming response fed by `rx`.
fn stream(rx: mpsc::Receiver<String>) -> HttpResponse {
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|s| (Ok::<_, actix_web::Error>(Bytes::from(s)), rx))
    });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

/// Waits until `wanted` says a change concerns this stream, `until` passes, or the
/// client goes away (false).
async fn woken(
    changes: &mut broadcast::Receiver<crate::db::changes::Change>,
    wanted: impl Fn(&crate::db::changes::Change) -> bool,
    until: Instant,
    tx: &mpsc::Sender<String>,
) -> bool {
    loop {
        tokio::select! {
            change = changes.recv() => match change {
                Ok(c) if wanted(&c) => return true,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return true,
                Err(broadcast::error::RecvError::Closed) => return false,
            },
            _ = tokio::time::sleep_until(until) => return true,
            _ = tx.closed() => return false,
        }
    }
}

/// `GET /pay/{id}/events`: `event: status` with `{status, addressed, redirect}` now and
/// at every change until the request is final; then the stream ends.
pub async fn pay(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let id = id.into_inner();
    let pass = match enter(&state, &req, format!("link:{id}")) {
        Ok(p) => p,
        Err(e) => return refused(e),
    };
    let mut changes = state.db.changes.subscribe();
    match links::status(&state, id.clone()).await {
        Ok(Some(_)) => {}
        Ok(None) => return super::not_found_page(&req),
        Err(e) => return actix_web::ResponseError::error_response(&e),
    }
    let (tx, rx) = mpsc::channel(8);
    let state = state.into_inner();
    let ends = lifetime(&state, None);
    tokio::spawn(async move {
        let _pass = pass;
        let mut last: Option<(RequestStatus, bool)> = None;
        let mut first = RETRY;
        loop {
            let row = match links::status(&state, id.clone()).await {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let now = (row.status, row.payer_id.is_some());
            let message = if last.as_ref() != Some(&now) {
                let redirect = match (&row.return_url, row.status) {
                    (Some(u), s) if s != RequestStatus::Pending => {
                        crate::domain::requests::return_target(u, &row.public_id, s.as_str())
                    }
                    _ => None,
                };
                let data = json!({"status": now.0, "addressed": now.1, "redirect": redirect});
                format!("{first}event: status\ndata: {data}\n\n")
            } else {
                ": keep-alive\n\n".to_string()
            };
            if tx.send(message).await.is_err() {
                return;
            }
            first = "";
            last = Some(now);
            if row.status != RequestStatus::Pending || Instant::now() >= ends {
                return;
            }
            // Wake at the deadline too, so the page turns "expired" on time.
            let to_deadline = (row.expires_at - state.clock.now_naive())
                .to_std()
                .unwrap_or_default()
                + Duration::from_millis(50);
            let until = (Instant::now() + FALLBACK_POLL.min(to_deadline)).min(ends);
            if !woken(&mut changes, |c| c.request == id, until, &tx).await {
                return;
            }
        }
    });
    stream(rx)
}

/// `GET /v1/wallet/events`: `event: money_request` with the request as the payer sees
/// it, whenever one addressed to (or paid by) this wallet is created or changes.
/// The stream ends when the session's access token expires (the app reconnects with a
/// fresh one) or after the stream lifetime, whichever comes first.
pub async fn wallet(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AppUser,
) -> Result<HttpResponse, ApiError> {
    wallet_stream(state, &req, user.account.id, user.expires_at)
}

/// The wallet stream of account `me`, ending at `expires_at` (unix seconds) at the latest.
pub fn wallet_stream(
    state: web::Data<AppState>,
    req: &HttpRequest,
    me: i64,
    expires_at: i64,
) -> Result<HttpResponse, ApiError> {
    let left = expires_at - state.clock.now().timestamp();
    if left <= 0 {
        // Inside the verifier's leeway: a stream would end at once and the app reconnect
        // in a loop; refreshing the session is what it needs.
        return Err(ApiError::unauthenticated(
            "The access token is missing, invalid or expired.",
        ));
    }
    let pass = match enter(&state, req, format!("wallet:{me}")) {
        Ok(p) => p,
        Err(e) => return Ok(refused(e)),
    };
    let token_left = Duration::from_secs(left as u64);
    let ends = lifetime(&state, Some(token_left));
    let mut changes = state.db.changes.subscribe();
    let (tx, rx) = mpsc::channel(64);
    let state = state.into_inner();
    let mut since = state.clock.now_naive();
    tokio::spawn(async move {
        let _pass = pass;
        if tx.send(format!("{RETRY}: connected\n\n")).await.is_err() {
            return;
        }
        // What was last sent per request (its `updated_at`), so nothing goes out twice.
        let mut sent: HashMap<String, chrono::NaiveDateTime> = HashMap::new();
        let mut pending: Vec<String> = Vec::new();
        loop {
            // The session's clock (moved in tests and sandboxes) as well as real time.
            if Instant::now() >= ends || state.clock.now().timestamp() >= expires_at {
                return;
            }
            let until = (Instant::now() + FALLBACK_POLL).min(ends);
            let woke_for = loop {
                tokio::select! {
                    change = changes.recv() => match change {
                        Ok(c) if c.payer == Some(me) => { pending.push(c.request); break true; }
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => break false,
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tokio::time::sleep_until(until) => break false,
                    _ = tx.closed() => return,
                }
            };
            if !woke_for {
                // The fallback: whatever changed for this wallet since the last look.
                let from = since - chrono::Duration::seconds(2);
                since = state.clock.now_naive();
                match approval::changed_since(&state, me, from).await {
                    Ok(ids) => pending.extend(ids),
                    Err(_) => continue,
                }
                if pending.is_empty() && tx.send(": keep-alive\n\n".into()).await.is_err() {
                    return;
                }
            }
            for id in std::mem::take(&mut pending) {
                let Ok(view) = approval::get_with_stamp(&state, me, id.clone()).await else {
                    continue;
                };
                let (view, stamp) = view;
                if sent.get(&id) == Some(&stamp) {
                    continue;
                }
                sent.insert(id, stamp);
                let data = serde_json::to_string(&view).unwrap_or_default();
                if tx
                    .send(format!("event: money_request\ndata: {data}\n\n"))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    Ok(stream(rx))
}
