//! A real HTTP receiver for callbacks, started by the test: it records every delivery
//! and answers as the test tells it (healthy, 500, 302, hanging, 503 with Retry-After).

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Healthy = 0,
    Fail500 = 1,
    Redirect302 = 2,
    Hang = 3,
    Busy503 = 4,
    /// 500 on the first delivery of each event, 200 on every later one.
    FailFirst = 5,
    /// 200 after 300 ms (within the test server's callback timeout).
    Slow = 6,
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub arrived: std::time::Instant,
    pub path: String,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub authorization: String,
    pub body: Vec<u8>,
}

impl Hit {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("callback body is JSON")
    }

    /// Standard Webhooks verification, written from the spec (not the server's code):
    /// true when one of the space-separated `v1,` signatures matches `secret`.
    pub fn verifies_with(&self, secret: &str) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.", self.id, self.timestamp).as_bytes());
        mac.update(&self.body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        self.signature.split(' ').any(|s| s == expected)
    }
}

/// The receiver's mode and the deliveries it recorded.
type Shared = (Arc<AtomicU8>, Arc<Mutex<Vec<Hit>>>);

pub struct Receiver {
    pub port: u16,
    mode: Arc<AtomicU8>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<Shared>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let first_of_event = !state
        .1
        .lock()
        .unwrap()
        .iter()
        .any(|h| h.id == header("webhook-id"));
    state.1.lock().unwrap().push(Hit {
        arrived: std::time::Instant::now(),
        path: req.path().to_string(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        authorization: header("authorization"),
        body: body.to_vec(),
    });
    match state.0.load(Ordering::SeqCst) {
        0 => HttpResponse::Ok().finish(),
        1 => HttpResponse::InternalServerError().finish(),
        2 => HttpResponse::Found()
            .insert_header(("Location", "/elsewhere"))
            .finish(),
        3 => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            HttpResponse::Ok().finish()
        }
        5 if first_of_event => HttpResponse::InternalServerError().finish(),
        5 => HttpResponse::Ok().finish(),
        6 => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            HttpResponse::Ok().finish()
        }
        _ => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "3600"))
            .finish(),
    }
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    pub async fn start_on(port: u16) -> Self {
        let (mode, hits) = (Arc::new(AtomicU8::new(0)), Arc::new(Mutex::new(Vec::new())));
        let data = web::Data::new((mode.clone(), hits.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(2)
        .bind(("127.0.0.1", port))
        .expect("receiver binds");
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self { port, mode, hits }
    }

    /// A port with nothing listening on it (connections are refused).
    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/callbacks", self.port)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits (10 s at most) until at least `n` deliveries arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Hit> {
        self.wait_for_within(n, Duration::from_secs(10)).await
    }

    /// Waits (`limit` at most) until at least `n` deliveries arrived.
    pub async fn wait_for_within(&self, n: usize, limit: Duration) -> Vec<Hit> {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if self.hits().len() >= n {
                return self.hits();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} deliveries, got {}", self.hits().len());
    }
}
