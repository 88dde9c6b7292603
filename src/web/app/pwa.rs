//! What makes the app installable: the web app manifest, the icons, the service worker
//! (it caches the app shell — the offline page and the icons — never money data) and
//! the offline page it shows when the network is gone.

use super::{render, Frame, Page};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

const ICON_192: &[u8] = include_bytes!("icons/icon-192.png");
const ICON_512: &[u8] = include_bytes!("icons/icon-512.png");

/// Bumped whenever the cached shell changes, so the worker replaces the old cache.
const SHELL_VERSION: &str = "pinpay-shell-3";

/// `GET /app/manifest.webmanifest`.
pub async fn manifest(req: HttpRequest) -> HttpResponse {
    let t = super::language(&req).t();
    let body = serde_json::json!({
        "name": "PinPay",
        "short_name": "PinPay",
        "description": t.get("app-manifest-description"),
        "lang": t.lang().code(),
        "dir": t.lang().dir(),
        "id": "/app",
        "start_url": "/app",
        "scope": "/app",
        "display": "standalone",
        "background_color": "#f4f6fa",
        "theme_color": "#0b5fff",
        "icons": [
            {"src": "/app/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": "/app/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": "/app/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"}
        ]
    });
    HttpResponse::Ok()
        .content_type("application/manifest+json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body.to_string())
}

/// `GET /app/icons/{file}`.
pub async fn icon(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    let body = match file.as_str() {
        "icon-192.png" => ICON_192,
        "icon-512.png" => ICON_512,
        _ => return super::super::not_found_page(&req),
    };
    HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// `GET /app/sw.js`: the service worker. Navigations go to the network; only when it
/// fails does the cached offline page answer. Nothing else is cached, so no balance or
/// request ever sits in the browser's cache.
pub async fn service_worker() -> HttpResponse {
    let script = format!(
        r#"const SHELL = "{SHELL_VERSION}";
const LANGS = ["en", "de", "fr", "he"];
const FILES = LANGS.map((l) => "/app/offline?lang=" + l).concat(["/app/icons/icon-192.png", "/app/icons/icon-512.png"]);
// The offline page in the language the page asked for, else the device's, else English.
const offlinePage = (url) => {{
  const asked = url.searchParams.get("lang");
  const device = (self.navigator.language || "en").slice(0, 2).toLowerCase();
  const lang = [asked, device].find((l) => LANGS.includes(l)) || "en";
  return caches.match("/app/offline?lang=" + lang);
}};
self.addEventListener("install", (e) => {{
  e.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
}});
self.addEventListener("activate", (e) => {{
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k)))).then(() => self.clients.claim()));
}});
// A push (the server's Web Push, encrypted to this browser): show it; a tap opens
// the request (or the money page) in the app.
self.addEventListener("push", (e) => {{
  let m = {{}};
  try {{ m = e.data ? e.data.json() : {{}}; }} catch (_) {{}}
  e.waitUntil(self.registration.showNotification(m.title || "PinPay", {{
    body: m.body || "", tag: m.tag, data: {{ url: m.url || "/app" }},
    icon: "/app/icons/icon-192.png", badge: "/app/icons/icon-192.png"
  }}));
}});
self.addEventListener("notificationclick", (e) => {{
  e.notification.close();
  const url = new URL((e.notification.data && e.notification.data.url) || "/app", self.location.origin);
  if (url.origin !== self.location.origin) return;
  e.waitUntil(self.clients.matchAll({{ type: "window" }}).then((open) => {{
    const same = open.find((c) => c.url === url.href);
    return same ? same.focus() : self.clients.openWindow(url.href);
  }}));
}});
self.addEventListener("fetch", (e) => {{
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (e.request.mode === "navigate") {{
    e.respondWith(fetch(e.request).catch(() => offlinePage(url)));
  }} else if (url.pathname.startsWith("/app/icons/")) {{
    e.respondWith(caches.match(e.request).then((hit) => hit || fetch(e.request)));
  }}
}});
"#
    );
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("Service-Worker-Allowed", "/app"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(script)
}

#[derive(Template)]
#[template(path = "app/offline.html")]
pub struct Offline {
    pub f: Frame,
}

impl Page for Offline {
    fn frame(&self) -> &Frame {
        &self.f
    }
}

/// `GET /app/offline`: what the app shows without a network (no account data on it).
pub async fn offline(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let page = Offline {
        f: Frame::new(&state, &req, None, "", "app-offline-title"),
    };
    let mut res = render(&state, &req, StatusCode::OK, &page);
    // The worker caches this one page: it may be stored, it holds nothing personal.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    res
}
