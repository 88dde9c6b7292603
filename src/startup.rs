//! Builds the application from a `Config` and a `Clock`: database, migrations, shared
//! state, the route table (all routes are listed here) and the HTTP server.

use crate::auth::hashing::Hasher;
use crate::auth::jwt::JwtKeys;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Db, DbOptions};
use crate::domain::calendar::Calendar;
use crate::domain::tiers::TierTable;
use crate::routes::{
    self, accounts, admin, callbacks, health, ledger, money_requests as mr, sessions, wallet,
};
use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, ErrorHandlers, Next};
use actix_web::{web, App, HttpMessage, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

pub struct Application {
    port: u16,
    server: Server,
    /// Background work that lives as long as the server: expiry sweeper, callback worker.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    hasher: crate::auth::hashing::Hasher,
}

/// The listening socket, with `backlog` queued connections (std's `bind` gives 128, which a
/// burst of new connections overflows: the kernel then drops SYNs and the clients wait
/// for their retry, a second or more).
fn listen(bind: &str, backlog: u32) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::ToSocketAddrs;
    let addr = bind.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to bind")
    })?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog as i32)?;
    Ok(socket.into())
}

impl Application {
    pub async fn build(config: Config, clock: Clock) -> Result<Self, String> {
        config.validate().map_err(|e| e.to_string())?;
        let state = build_state(config, clock).await?;
        check_pin_keys(&state).await?;
        let listener = listen(&state.config.bind, state.config.listen_backlog)
            .map_err(|e| format!("cannot bind {}: {e}", state.config.bind))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let workers = state.config.workers.max(1);
        let max_connections = state.config.max_connections;
        let header_timeout = std::time::Duration::from_millis(state.config.header_timeout_ms);
        let (shutdown, stop) = tokio::sync::watch::channel(false);
        let worker = crate::services::messaging::delivery::Worker::new(state.ctx.clone())?;
        let notifier = Arc::new(crate::notify::Notifier::from_config(
            &state.config,
            state.http.clone(),
        )?);
        let tasks = vec![
            tokio::spawn(sweeper(state.clone(), stop.clone())),
            tokio::spawn(crate::services::payments::link_sends::run(
                state.ctx.clone(),
                notifier.clone(),
                stop.clone(),
            )),
            tokio::spawn(crate::services::messaging::notifications::run(
                state.ctx.clone(),
                notifier,
                stop.clone(),
            )),
            tokio::spawn(crate::services::wallet::reload_worker::run(
                state.ctx.clone(),
                stop.clone(),
            )),
            tokio::spawn(worker.run(stop)),
        ];
        let hasher = state.hasher.clone();
        let connections = state.connections.clone();
        let data = web::Data::new(state);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(routes::extract::BODY_LIMIT))
                .app_data(web::PathConfig::default().error_handler(routes::path_error))
                .app_data(web::QueryConfig::default().error_handler(routes::query_error))
                .wrap(ErrorHandlers::new().default_handler(routes::problem_fallback))
                .wrap(from_fn(routes::version::api_version))
                .wrap(from_fn(request_log))
                .wrap(from_fn(crate::connections::admit))
                .configure(route_table)
                .default_service(web::to(routes::unknown_route))
        })
        .on_connect(move |conn, ext| connections.on_connect(conn, ext))
        .workers(workers)
        .max_connections(max_connections)
        .client_request_timeout(header_timeout)
        .shutdown_timeout(30)
        .listen(listener)
        .map_err(|e| e.to_string())?
        .run();
        tracing::info!(port, "PinPay listening");
        Ok(Self {
            port,
            server,
            tasks,
            shutdown,
            hasher,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's password and PIN hasher (the load benchmark measures its verify
    /// floor on the same threads and working memory the server uses).
    pub fn hasher(&self) -> crate::auth::hashing::Hasher {
        self.hasher.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped. On SIGTERM (or SIGINT) the background tasks are told at once,
    /// so they start no new round while requests in flight complete; then they finish the
    /// round they are in and stop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let shutdown = Arc::new(self.shutdown);
        let on_signal = {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                stop_signal().await;
                let _ = shutdown.send(true);
            })
        };
        let result = self.server.await;
        on_signal.abort();
        let _ = shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        result
    }
}

/// Resolves on SIGTERM or SIGINT (the HTTP server handles the same signals itself).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// Opens the database, applies migrations and prepares keys and the hasher.
pub async fn build_state(config: Config, clock: Clock) -> Result<AppState, String> {
    let db = Db::open(
        &config.database_url,
        DbOptions {
            max_size: config.db_pool_size,
            checkout_timeout: std::time::Duration::from_millis(config.db_checkout_timeout_ms),
            call_timeout: std::time::Duration::from_millis(config.db_call_timeout_ms),
            busy_timeout: std::time::Duration::from_millis(config.sqlite_busy_timeout_ms),
        },
    )?;
    let migrator = db.clone();
    tokio::task::spawn_blocking(move || migrator.migrate())
        .await
        .map_err(|e| e.to_string())??;
    let (environment, now) = (config.environment, clock.now_naive());
    db.run(move |c| crate::services::sandbox::claim_database(c, environment, now))
        .await
        .map_err(|e| e.to_string())??;
    // PINs under a key this server lacks cannot be verified: say so now, not at the
    // first approval.
    let keys = config.pin_keys.clone();
    let census = db
        .run(move |c| crate::services::identity::pins::key_census(c, &keys))
        .await
        .map_err(|e| e.to_string())?;
    if census.other > 0 {
        tracing::error!(
            pins = census.other,
            configured = ?config.pin_keys.versions(),
            "PINs are tagged under a PIN key version PINPAY_PIN_KEYS lacks: their approvals \
             answer 503 pin_key_missing until the key is added (see `pinpay pins status`)"
        );
    }
    let hashing_threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hasher = Hasher::new(&config.pepper, config.argon2, hashing_threads)?;
    let jwt = Arc::new(JwtKeys::new(config.jwt_secret.expose()));
    let tiers = match &config.tiers_file {
        Some(path) => TierTable::from_json(
            &std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read PINPAY_TIERS_FILE {path}: {e}"))?,
        )?,
        None => TierTable::shipped(),
    };
    let tz: chrono_tz::Tz = config
        .timezone
        .parse()
        .map_err(|_| format!("unknown time zone {}", config.timezone))?;
    let (connections, streams) = (
        crate::connections::Gate::new(&config),
        crate::web::stream_gate::StreamGate::new(&config),
    );
    let webauthn = Arc::new(crate::services::identity::passkeys::relying_party(
        &config.public_url,
    )?);
    let ctx = crate::services::Context {
        webauthn,
        db,
        config: Arc::new(config),
        clock,
        jwt,
        hasher,
        tiers: Arc::new(tiers),
        calendar: Calendar::new(tz),
        pin_gate: Default::default(),
        sends_wake: Default::default(),
        notifications_wake: Default::default(),
        metrics: Default::default(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?,
    };
    Ok(AppState {
        ctx,
        connections,
        streams,
    })
}

/// Before serving: a key under a version the database knows by another key would read
/// every PIN as wrong and count it toward the lock, so the server refuses to start. Tools
/// that open the database without checking PINs (the demo beside a running server) skip it.
async fn check_pin_keys(state: &AppState) -> Result<(), String> {
    let (keys, now) = (state.config.pin_keys.clone(), state.clock.now_naive());
    let wrong = state
        .db
        .run(move |c| crate::services::identity::pins::check_keys(c, &keys, now))
        .await
        .map_err(|e| e.to_string())?;
    if wrong.is_empty() {
        return Ok(());
    }
    Err(format!(
        "PINPAY_PIN_KEYS: the key of version {wrong:?} is not the one this database's PINs \
         were tagged with (its check value differs); with it every PIN would read as wrong. \
         Configure the original key for that version (a new key takes a new version number)."
    ))
}

/// Declares every route once: registers the handlers (one resource per path) and lists
/// the `(method, path)` pairs in `ROUTES`, which a test compares with `openapi.yaml`.
macro_rules! routes {
    ($( $path:literal => { $( $method:ident => $handler:path ),+ $(,)? } )*) => {
        /// Every `(method, path)` the server answers.
        pub const ROUTES: &[(&str, &str)] = &[ $( $( (stringify!($method), $path) ),+ ),* ];

        /// Every route of the API, in one place. Order matters where patterns overlap:
        /// `/v1/money-requests/bulk` precedes `/v1/money-requests/{id}`.
        pub fn route_table(cfg: &mut web::ServiceConfig) {
            $( cfg.service(resource($path, &[$(stringify!($method)),+]) $( .route(web::$method().to($handler)) )+ ); )*
        }
    };
}

routes! {
    "/health" => { get => health::health }
    "/ready" => { get => health::ready }
    "/openapi.yaml" => { get => health::openapi }
    "/metrics" => { get => health::metrics }
    "/docs" => { get => crate::web::docs::docs }
    "/docs/redoc.standalone.js" => { get => crate::web::docs::redoc }
    "/problems" => { get => crate::web::docs::problems }
    "/problems/{code}" => { get => crate::web::docs::problem }
    "/v1/accounts" => { post => accounts::register }
    "/v1/me" => { get => accounts::me }
    "/v1/me/pin" => { put => accounts::set_pin }
    "/v1/me/passkeys/registration" => { post => routes::passkeys::start_registration }
    "/v1/me/passkeys/challenge" => { post => routes::passkeys::change_challenge }
    "/v1/me/passkeys" => { get => routes::passkeys::list, post => routes::passkeys::register }
    "/v1/me/passkeys/{id}" => { delete => routes::passkeys::delete }
    "/v1/me/push-subscriptions" => { get => routes::push::list, post => routes::push::subscribe, delete => routes::push::unsubscribe }
    "/v1/push/key" => { get => routes::push::key }
    "/v1/me/balance-alert" => { get => accounts::balance_alert, put => accounts::set_balance_alert }
    "/v1/me/auto-reload" => { get => routes::reloads::auto_reload, put => routes::reloads::set_auto_reload }
    "/v1/reloads" => { post => routes::reloads::order, get => routes::reloads::list }
    "/v1/reload/confirmations/{provider}" => { post => routes::reloads::confirm }
    "/v1/me/email" => { get => routes::onboarding::email }
    "/v1/me/email/confirmation" => { post => routes::onboarding::send_email_code }
    "/v1/me/email/confirm" => { post => routes::onboarding::confirm_email }
    "/v1/me/bank-account" => { get => routes::onboarding::bank_account, put => routes::onboarding::change_bank_account }
    "/v1/me/bank-account/verification" => { post => routes::onboarding::request_verification }
    "/v1/me/bank-account/verify" => { post => routes::onboarding::verify }
    "/v1/me/upgrade" => { post => routes::onboarding::open_application, get => routes::onboarding::application }
    "/v1/me/upgrade/documents" => { post => routes::onboarding::upload_document }
    "/v1/me/upgrade/documents/{id}" => { get => routes::onboarding::document }
    "/v1/me/upgrade/submit" => { post => routes::onboarding::submit }
    "/v1/sessions" => { post => sessions::login }
    "/v1/sessions/refresh" => { post => sessions::refresh }
    "/v1/auth/tokens" => { post => sessions::create_api_token, get => sessions::list_api_tokens, delete => sessions::revoke_api_tokens }
    "/v1/auth/tokens/{id}" => { delete => sessions::revoke_api_token }
    "/v1/fees" => { get => ledger::fees }
    "/v1/balance" => { get => ledger::balance }
    "/v1/transactions" => { get => ledger::transactions }
    "/v1/transactions.csv" => { get => ledger::transactions_csv }
    "/v1/transactions.xlsx" => { get => ledger::transactions_xlsx }
    "/v1/statements/{month}" => { get => routes::statements::statement }
    "/v1/invoices" => { get => routes::statements::invoices }
    "/v1/invoices/{month}" => { get => routes::statements::invoice }
    "/v1/transfers" => { post => ledger::transfer }
    "/v1/transfers/passkey-challenge" => { post => routes::passkeys::transfer_challenge }
    "/v1/payouts" => { post => ledger::payout }
    "/v1/payouts/passkey-challenge" => { post => routes::passkeys::payout_challenge }
    "/v1/money-requests" => { post => mr::create, get => mr::list }
    "/v1/money-requests/bulk" => { post => mr::create_bulk }
    "/v1/money-requests/{id}" => { get => mr::get }
    "/v1/money-requests/{id}/cancel" => { post => mr::cancel }
    "/v1/money-requests/{id}/events" => { get => mr::events }
    "/v1/money-requests/{id}/refunds" => { post => mr::refund, get => mr::list_refunds }
    "/v1/money-requests/{id}/send" => { post => mr::send }
    "/v1/hosted-page" => { get => mr::hosted_page, put => mr::set_hosted_page }
    "/v1/wallet/events" => { get => crate::web::events::wallet }
    "/v1/wallet/money-requests" => { get => wallet::inbox }
    "/v1/wallet/money-requests/{id}" => { get => wallet::get }
    "/v1/wallet/money-requests/{id}/approve" => { post => wallet::approve }
    "/v1/wallet/money-requests/{id}/passkey-challenge" => { post => routes::passkeys::request_challenge }
    "/v1/wallet/money-requests/{id}/decline" => { post => wallet::decline }
    "/v1/callback-url" => { put => callbacks::set_url }
    "/v1/callback-secret/rotate" => { post => callbacks::rotate_secret }
    "/v1/callbacks" => { get => callbacks::list }
    "/v1/callbacks/{id}/redeliver" => { post => callbacks::redeliver }
    "/v1/admin/accounts/{username}/tier" => { put => admin::set_tier }
    "/v1/admin/deposits" => { post => admin::deposit }
    "/v1/admin/ledger/verify" => { get => admin::verify_ledger }
    "/v1/admin/fx-rates" => { put => admin::set_fx_rates }
    "/v1/admin/payouts" => { get => admin::list_payouts }
    "/v1/admin/payouts/{id}/execute" => { post => admin::execute_payout }
    "/v1/admin/applications" => { get => admin::list_applications }
    "/v1/admin/applications/{id}" => { get => admin::get_application }
    "/v1/admin/applications/{id}/documents/{document}" => { get => admin::application_document }
    "/v1/admin/applications/{id}/accept" => { post => admin::accept_application }
    "/v1/admin/applications/{id}/reject" => { post => admin::reject_application }
    "/v1/admin/audit" => { get => admin::audit_log }
    "/v1/sandbox/clock" => { get => routes::sandbox::clock, post => routes::sandbox::advance_clock }
    "/v1/sandbox/money-requests/{id}/simulate" => { post => routes::sandbox::simulate }
    "/v1/sandbox/callbacks/test" => { post => routes::sandbox::test_callback }
    "/v1/sandbox/merchants" => { post => routes::sandbox::create_merchant }
    "/pay/{id}" => { get => crate::web::pay::show }
    "/pay/{id}/events" => { get => crate::web::events::pay }
    "/pay/{id}/login" => { get => crate::web::pay::form_address, post => crate::web::pay::login }
    "/pay/{id}/approve" => { get => crate::web::pay::form_address, post => crate::web::pay::approve }
    "/pay/{id}/decline" => { get => crate::web::pay::form_address, post => crate::web::pay::decline }
    "/pay/{id}/send-to-app" => { get => crate::web::pay::form_address, post => crate::web::pay::send_to_app }
    "/pay/{id}/logout" => { get => crate::web::pay::form_address, post => crate::web::pay::logout }
    "/app" => { get => crate::web::app::home }
    "/app/sign-in" => { get => crate::web::app::account::sign_in_page, post => crate::web::app::account::sign_in }
    "/app/register" => { get => crate::web::app::account::register_page, post => crate::web::app::account::register }
    "/app/sign-out" => { get => crate::web::app::settings::form_address, post => crate::web::app::account::sign_out }
    "/app/sign-out-everywhere" => { get => crate::web::app::settings::form_address, post => crate::web::app::account::sign_out_everywhere }
    "/app/events" => { get => crate::web::app::inbox::events }
    "/app/requests/{id}" => { get => crate::web::app::inbox::request }
    "/app/requests/{id}/approve" => { get => crate::web::app::inbox::form_address, post => crate::web::app::inbox::approve }
    "/app/requests/{id}/decline" => { get => crate::web::app::inbox::form_address, post => crate::web::app::inbox::decline }
    "/app/money" => { get => crate::web::app::money::show }
    "/app/money/statements/{file}" => { get => crate::web::app::money::statement }
    "/app/money/top-up" => { get => crate::web::app::money::top_up_form, post => crate::web::app::money::top_up }
    "/app/money/withdraw" => { get => crate::web::app::withdraw::show }
    "/app/money/withdraw/bank-account" => { get => crate::web::app::withdraw::form_address, post => crate::web::app::withdraw::bank }
    "/app/money/withdraw/review" => { get => crate::web::app::withdraw::form_address, post => crate::web::app::withdraw::review }
    "/app/money/withdraw/confirm" => { get => crate::web::app::withdraw::form_address, post => crate::web::app::withdraw::confirm }
    "/app/send" => { get => crate::web::app::money::send_start }
    "/app/send/review" => { get => crate::web::app::money::send_address, post => crate::web::app::money::send_review }
    "/app/send/confirm" => { get => crate::web::app::money::send_address, post => crate::web::app::money::send }
    "/app/settings" => { get => crate::web::app::settings::show }
    "/app/settings/pin" => { get => crate::web::app::settings::form_address, post => crate::web::app::settings::pin }
    "/app/settings/alert" => { get => crate::web::app::settings::form_address, post => crate::web::app::settings::alert }
    "/app/settings/push" => { get => crate::web::app::settings::form_address, post => crate::web::app::settings::push }
    "/app/settings/auto-reload" => { get => crate::web::app::settings::form_address, post => crate::web::app::settings::reload }
    "/app/offline" => { get => crate::web::app::pwa::offline }
    "/app/manifest.webmanifest" => { get => crate::web::app::pwa::manifest }
    "/app/sw.js" => { get => crate::web::app::pwa::service_worker }
    "/app/icons/{file}" => { get => crate::web::app::pwa::icon }
}

/// A resource that answers other methods with 405 and an `Allow` header (rather than
/// falling through to the app's 404).
fn resource(path: &str, methods: &[&str]) -> actix_web::Resource {
    let allow = methods
        .iter()
        .map(|m| m.to_uppercase())
        .collect::<Vec<_>>()
        .join(", ");
    web::resource(path).default_service(web::to(move || routes::method_not_allowed(allow.clone())))
}

/// Gives each request an id (kept from `X-Request-Id` if the caller sent a sane one)
/// and logs one structured line per request.
async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
        .unwrap_or_else(|| crate::auth::opaque::generate("req"));
    let (method, path) = (req.method().clone(), req.path().to_string());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let started = Instant::now();
    let mut res = next.call(req).await?;
    // `/v1/money-requests/:id`: braces in label values trip some exposition parsers.
    let route = res.request().match_pattern().map_or_else(
        || "unmatched".to_string(),
        |p| p.replace('{', ":").replace('}', ""),
    );
    if let Some(state) = state {
        let seconds = started.elapsed().as_secs_f64();
        state
            .metrics
            .http(&route, method.as_str(), res.status().as_u16(), seconds);
    }
    if let Ok(v) = request_id.parse() {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            v,
        );
    }
    let account = res
        .request()
        .extensions()
        .get::<crate::routes::callers::CallerId>()
        .map(|c| c.0);
    tracing::info!(
        request_id, %method, path, route, status = res.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64, account, "request"
    );
    Ok(res)
}

/// Expires overdue money requests every `sweep_interval_ms` until shutdown; hourly, the
/// low-balance sweep and lapsed passkey challenges.
async fn sweeper(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let every = std::time::Duration::from_millis(state.config.sweep_interval_ms);
    let mut tick = tokio::time::interval(every);
    // The hourly low-balance sweep, by the app clock (which tests and the sandbox move).
    let mut alerts_swept: Option<chrono::NaiveDateTime> = None;
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            _ = tick.tick() => {}
        };
        crate::services::payments::requests::expiry::sweep_backlog(&state, || *shutdown.borrow())
            .await;
        let now = state.clock.now_naive();
        if alerts_swept.is_none_or(|at| now - at >= chrono::Duration::hours(1)) {
            match crate::services::wallet::balance_alerts::sweep(&state).await {
                Ok(_) => alerts_swept = Some(now),
                Err(e) => tracing::warn!(error = %e.detail, "the low-balance sweep failed"),
            }
            if let Err(e) = crate::services::identity::passkeys::sweep_expired(&state).await {
                tracing::warn!(error = %e.detail, "the passkey challenge sweep failed");
            }
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit, as servers do
/// (systemd starts services with a soft limit of 1024, fewer than the connections
/// `PINPAY_WORKERS` × `PINPAY_MAX_CONNECTIONS` allow by default); returns the soft limit
/// before and after. Beyond the limit the server could not accept a connection or open
/// a file, with its connection limit not yet reached.
pub fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    set_open_files_limit(|_, hard| hard)
}

/// Sets the soft limit on open files to `soft(current soft, hard)`; returns the soft limit
/// before and after. Only getrlimit and setrlimit run (safe between fork and exec).
pub fn set_open_files_limit(soft: impl FnOnce(u64, u64) -> u64) -> std::io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let before = limit.rlim_cur;
        let wanted = soft(before, limit.rlim_max);
        if wanted != before {
            limit.rlim_cur = wanted;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok((before, limit.rlim_cur))
    }
}

/// glibc gives each thread that allocates under contention an arena of its own (up to 8
/// per core) and seldom returns their memory; two arenas keep the resident size close to
/// what is in use. Set before any thread starts (the binary and the benchmarks, which run
/// the server in process, call it first).
pub fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
