//! Settings in the wallet app: the PIN (set or change), the low-balance alert, auto-reload,
//! the passkeys, and the sessions (sign out, sign out everywhere).

use super::{explain, render, see_other, signed_in, Frame, Page};
use crate::db::models::Account;
use crate::domain::money::Money;
use crate::error::ApiError;
use crate::services::identity::passkeys::{self, PasskeyView};
use crate::services::identity::pins::{self, PinChange};
use crate::services::wallet::auto_reload::{self, AutoReloadSettings};
use crate::services::wallet::balance_alerts::{self, AlertSettings};
use crate::services::wallet::reload_providers::Provider;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

pub struct PasskeyRow {
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
}

#[derive(Template)]
#[template(path = "app/settings.html")]
pub struct Settings {
    pub f: Frame,
    pub has_pin: bool,
    pub alert_enabled: bool,
    pub alert_threshold: String,
    pub alert_recipients: String,
    pub reload_enabled: bool,
    pub reload_replenish: String,
    pub reload_recurring: String,
    pub reload_note: Option<String>,
    /// Each offered provider with its name in the page's language.
    pub providers: Vec<(String, String)>,
    pub reload_provider: String,
    pub passkeys: Vec<PasskeyRow>,
    /// The VAPID public key the page subscribes with (none: no pushes on this server).
    pub push_key: Option<String>,
    /// How many devices of this wallet receive pushes.
    pub push_devices: i64,
    pub push_active: String,
    /// Which form the message belongs to (`pin`, `alert`, `reload`), and the message.
    pub error: Option<(String, String)>,
    pub notice: Option<String>,
}

impl Page for Settings {
    fn frame(&self) -> &Frame {
        &self.f
    }
}

async fn page(
    state: &AppState,
    req: &HttpRequest,
    me: &Account,
    error: Option<(&str, ApiError)>,
    notice: Option<String>,
) -> HttpResponse {
    let lang = super::language(req);
    let t = lang.t();
    let (alert, reload, keys) = (
        balance_alerts::get(state, me).await,
        auto_reload::get_settings(state, me).await,
        passkeys::list(state, me.id).await,
    );
    let (alert, reload, keys): (_, _, Vec<PasskeyView>) = match (alert, reload, keys) {
        (Ok(a), Ok(r), Ok(k)) => (a, r, k),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return super::failure_page(req, &e),
    };
    let account_id = me.id;
    let push_devices = state
        .db
        .run(move |c| {
            use crate::db::schema::push_subscriptions as ps;
            use diesel::prelude::*;
            Ok(ps::table
                .filter(ps::account_id.eq(account_id))
                .count()
                .get_result::<i64>(c)?)
        })
        .await
        .unwrap_or(0);
    let plain = |m: Option<Money>| m.map(|m| m.to_string()).unwrap_or_default();
    let status = error
        .as_ref()
        .map_or(StatusCode::OK, |(_, e)| super::refusal_status(e));
    let when = |at: &str| super::inbox::when(state, lang, at);
    let page = Settings {
        f: Frame::new(state, req, Some(me), "settings", "app-tab-settings"),
        has_pin: me.pin_hash.is_some(),
        alert_enabled: alert.enabled,
        alert_threshold: plain(alert.threshold),
        alert_recipients: alert.recipients.join(", "),
        reload_enabled: reload.enabled,
        reload_replenish: plain(reload.replenish_amount),
        reload_recurring: plain(reload.recurring_amount),
        reload_note: reload.disabled_reason.clone(),
        providers: Provider::offered(&state.config)
            .into_iter()
            .map(|p| (p.to_string(), t.get(&format!("app-provider-{p}"))))
            .collect(),
        reload_provider: reload.provider.clone().unwrap_or_default(),
        passkeys: keys
            .iter()
            .map(|k| PasskeyRow {
                name: k.name.clone(),
                created: when(&k.created_at),
                last_used: k.last_used_at.as_deref().map(when),
            })
            .collect(),
        push_key: state
            .config
            .vapid_private_key
            .as_ref()
            .and_then(|k| crate::notify::push::public_key_of(k.expose())),
        push_active: t.with(
            "app-notifications-active",
            &[("n", &push_devices.to_string())],
        ),
        push_devices,
        error: error.map(|(form, e)| (form.to_string(), explain(t, &e))),
        notice,
    };
    render(state, req, status, &page)
}

/// `GET /app/settings`.
pub async fn show(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let me = match signed_in(&state, &req).await {
        Ok(me) => me,
        Err(res) => return res,
    };
    let t = super::language(&req).t();
    let notice = if req.query_string().contains("welcome=1") {
        Some(t.get("app-welcome"))
    } else if req.query_string().contains("saved=1") {
        Some(t.get("app-saved"))
    } else {
        None
    };
    page(&state, &req, &me, None, notice).await
}

/// `POST /app/settings/pin`: sets the PIN with the password, or changes it with the old PIN.
pub async fn pin(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let get = |k: &str| form.get(k).cloned().filter(|v| !v.is_empty());
    let new_pin = get("pin").unwrap_or_default();
    if get("pin2").as_deref() != Some(new_pin.as_str()) {
        let t = super::language(&req).t();
        let e = ApiError::invalid_field("pin2", t.get("app-err-pins-differ"));
        return page(&state, &req, &me, Some(("pin", e)), None).await;
    }
    let change = PinChange {
        pin: new_pin,
        password: get("password"),
        old_pin: get("old_pin"),
    };
    let client = req.peer_addr().map(|a| a.ip());
    match pins::set_pin(&state, &me, client, change).await {
        Ok(()) => see_other("/app/settings?saved=1"),
        Err(e) if e.status.is_server_error() => super::failure_page(&req, &e),
        Err(e) => page(&state, &req, &me, Some(("pin", e)), None).await,
    }
}

/// `POST /app/settings/alert`: the low-balance alert.
pub async fn alert(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let enabled = form.contains_key("enabled");
    let saved = match balance_alerts::get(&state, &me).await {
        Ok(v) => v,
        Err(e) => return super::failure_page(&req, &e),
    };
    if !enabled && saved.threshold.is_none() {
        // Off, and never set up: nothing to save.
        return see_other("/app/settings?saved=1");
    }
    let mut settings = AlertSettings {
        threshold: form
            .get("threshold")
            .map(|v| v.trim().replace(',', "."))
            .unwrap_or_default(),
        recipients: form
            .get("recipients")
            .map(|r| {
                r.split([',', ' ', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        enabled,
    };
    // Turning it off needs no amount: empty fields keep what was saved.
    if !enabled {
        if settings.threshold.is_empty() {
            settings.threshold = saved.threshold.map(|m| m.to_string()).unwrap_or_default();
        }
        if settings.recipients.is_empty() {
            settings.recipients = saved.recipients.clone();
        }
    }
    match balance_alerts::set(&state, &me, settings).await {
        Ok(_) => see_other("/app/settings?saved=1"),
        Err(e) if e.status.is_server_error() => super::failure_page(&req, &e),
        Err(e) => page(&state, &req, &me, Some(("alert", e)), None).await,
    }
}

/// `POST /app/settings/auto-reload`.
pub async fn reload(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let amount = |k: &str| {
        form.get(k)
            .map(|v| v.trim().replace(',', "."))
            .unwrap_or_default()
    };
    let settings = AutoReloadSettings {
        enabled: form.contains_key("enabled"),
        replenish_amount: amount("replenish_amount"),
        recurring_amount: amount("recurring_amount"),
        provider: form.get("provider").cloned().unwrap_or_default(),
    };
    match auto_reload::set_settings(&state, &me, settings).await {
        Ok(_) => see_other("/app/settings?saved=1"),
        Err(e) if e.status.is_server_error() => super::failure_page(&req, &e),
        Err(e) => page(&state, &req, &me, Some(("reload", e)), None).await,
    }
}

/// `POST /app/settings/push` (from the page's script): `subscription` (the browser's
/// `PushSubscription` as JSON) to turn pushes on for this device, or `endpoint` with
/// `off` to turn them off. Answers 204, or a problem.
pub async fn push(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    use crate::services::messaging::push as service;
    let (form, me) = match super::posted(&state, &req, &body).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let done = if form.contains_key("off") {
        let endpoint = form.get("endpoint").cloned().unwrap_or_default();
        service::unsubscribe(&state, me.id, endpoint).await
    } else {
        match form
            .get("subscription")
            .and_then(|s| serde_json::from_str::<service::NewSubscription>(s).ok())
        {
            Some(mut sub) => {
                sub.language = Some(super::language(&req).code().to_string());
                service::subscribe(&state, me.id, sub).await.map(|_| ())
            }
            None => Err(ApiError::invalid_field(
                "subscription",
                "subscription must be a PushSubscription as JSON",
            )),
        }
    };
    match done {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}

/// `GET` on a settings form's address: the settings page.
pub async fn form_address() -> HttpResponse {
    see_other("/app/settings")
}
