//! Typed settings read from `PINPAY_*` / `DATABASE_URL`, validated once at start.

use std::fmt;

const DEV_PEPPER: &str = "pinpay-development-pepper-not-for-production";
const DEV_RELOAD_SECRET: &str = "pinpay-sandbox-reload-secret";
const MIN_SECRET_BYTES: usize = 32;
/// The operator token's least estimated entropy in production (`domain::secrets`).
const MIN_OPERATOR_TOKEN_BITS: f64 = 128.0;
const MIN_PEPPER_BYTES: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
    /// Test mode for integrators: everything as in production plus `/v1/sandbox/*` (a
    /// test clock, a simulated payer, test callbacks, self-service merchants), on a
    /// database of its own.
    Sandbox,
}

impl Environment {
    /// What a database remembers of the servers that used it: `sandbox` or `live`
    /// (development and production).
    pub fn database_class(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Development | Self::Production => "live",
        }
    }
}

/// The URL a client on this machine reaches a server bound to `bind` at
/// (`0.0.0.0:8080` → `http://127.0.0.1:8080`; port 0 is shown as `PORT`).
pub fn local_url(bind: &str) -> String {
    let (host, port) = bind.rsplit_once(':').unwrap_or((bind, "8080"));
    let host = match host {
        "" | "0.0.0.0" | "[::]" | "::" => "127.0.0.1",
        h => h,
    };
    let port = if port == "0" { "PORT" } else { port };
    format!("http://{host}:{port}")
}

/// A secret value whose `Debug` never prints it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Argon2id cost parameters (OWASP minimum by default).
#[derive(Clone, Copy, Debug)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub environment: Environment,
    pub database_url: String,
    pub bind: String,
    pub workers: usize,
    pub jwt_secret: Secret,
    pub pepper: Secret,
    /// The keys PINs are tagged with (`PINPAY_PIN_KEYS`), never stored in the database.
    pub pin_keys: crate::domain::pin_tag::PinKeys,
    /// Development without `PINPAY_PIN_KEYS`: the generated value, for `serve` and
    /// `demo` to keep in `.env` (PINs tagged under it need it after a restart).
    pub pin_keys_generated: Option<String>,
    pub admin_token: Option<Secret>,
    /// The Web Push (VAPID, RFC 8292) signing key: a P-256 private scalar, base64url
    /// (`PINPAY_VAPID_PRIVATE_KEY`); none: no pushes (production without one).
    pub vapid_private_key: Option<Secret>,
    /// Development without `PINPAY_VAPID_PRIVATE_KEY`: the generated key, for `serve` to
    /// keep in `.env` (browsers' subscriptions are bound to its public key).
    pub vapid_generated: Option<String>,
    /// Who push services may contact about this server (`PINPAY_VAPID_SUBJECT`, a
    /// `mailto:` or `https:` URL).
    pub vapid_subject: String,
    /// Above this amount every payer operation needs a passkey as well as the PIN
    /// (`PINPAY_SCA_DEVICE_REQUIRED_ABOVE`, EUR; unset: only wallets with a passkey).
    pub sca_device_required_above: Option<crate::domain::money::Money>,
    pub public_url: String,
    pub timezone: String,
    pub callback_allow_private: bool,
    pub argon2: Argon2Params,
    pub app_token_ttl_secs: i64,
    pub api_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub db_pool_size: u32,
    /// A JSON file replacing the shipped fee and limit table.
    pub tiers_file: Option<String>,
    /// How often overdue money requests are expired.
    pub sweep_interval_ms: u64,
    /// How often the delivery worker looks for due callbacks.
    pub delivery_interval_ms: u64,
    /// Per-attempt callback timeout.
    pub callback_timeout_ms: u64,
    /// How long an attempt holds its idempotency key before a retry may take it over.
    pub idempotency_lease_secs: i64,
    /// The longest wait for a pooled database connection.
    pub db_checkout_timeout_ms: u64,
    /// The longest one database call may take before the request answers 503
    /// `database_timeout` (also PostgreSQL's `statement_timeout`).
    pub db_call_timeout_ms: u64,
    /// How long a SQLite statement waits for another writer's lock.
    pub sqlite_busy_timeout_ms: u64,
    /// Time allowed to send the request head, and then the body.
    pub header_timeout_ms: u64,
    pub body_timeout_ms: u64,
    /// Open connections per HTTP worker (more wait in the listen queue).
    pub max_connections: usize,
    /// Connections the kernel queues before the server accepts them (capped by
    /// `net.core.somaxconn`); a burst of new connections beyond it waits for SYN retries.
    pub listen_backlog: u32,
    /// Open connections one client address may hold (0: no cap, e.g. behind a proxy
    /// that caps them itself); beyond it a connection is closed as soon as it is accepted.
    pub max_connections_per_address: usize,
    /// The head and body deadline while more than half the connection slots are taken
    /// (and for a connection over its address's cap).
    pub pressure_timeout_ms: u64,
    /// Event streams (SSE) open at once on this instance, per client address, and per
    /// link or wallet; beyond them 503 or 429 with `Retry-After`.
    pub max_streams: usize,
    pub max_streams_per_address: usize,
    pub max_streams_per_subject: usize,
    /// The longest an event stream stays open; the client reconnects (`retry:`).
    pub stream_lifetime_secs: u64,
    /// Password guesses allowed before back-off, per account and per client address.
    pub throttle: crate::domain::throttle::Limits,
    /// E-mail delivery of payment links; `None`: the log sink.
    pub smtp: Option<SmtpConfig>,
    /// SMS delivery of payment links through an HTTP gateway; `None`: the log sink.
    pub sms: Option<SmsConfig>,
    /// The built-in sandbox reload provider: its MAC secret, and how long after an order
    /// it confirms it.
    pub reload_sandbox_secret: Secret,
    pub reload_sandbox_delay_ms: u64,
    /// A card acquirer's hosted order flow (reload provider `acquirer`); `None`: not offered.
    pub reload_acquirer: Option<AcquirerConfig>,
    /// A reload order the payer has not completed after this long fails.
    pub reload_order_ttl_secs: u64,
}

/// A card acquirer in the shape of Worldpay's hosted order flow: PinPay creates the order
/// by an HTTP call, the payer completes it on the acquirer's page, and the acquirer
/// confirms it with a MAC at `POST /v1/reload/confirmations/acquirer`.
#[derive(Clone, Debug)]
pub struct AcquirerConfig {
    /// Orders are created by `POST` of JSON to this URL.
    pub url: String,
    /// PinPay's merchant code at the acquirer, sent with every order.
    pub merchant_code: String,
    /// HTTP Basic password for order creation (the user is the merchant code), when set.
    pub password: Option<Secret>,
    /// The secret the acquirer's confirmation MACs are made with.
    pub mac_secret: Secret,
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or in development).
    None,
    /// STARTTLS upgrade, required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Clone, Debug)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The From address of link e-mails.
    pub from: String,
}

#[derive(Clone, Debug)]
pub struct SmsConfig {
    /// The gateway's endpoint: `POST {from, to, text}` as JSON.
    pub url: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub token: Option<Secret>,
    /// The sender name shown on the phone (≤ 20 characters).
    pub sender: String,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Development defaults: works with no environment at all.
    pub fn development() -> Self {
        let generated_keys = crate::domain::pin_tag::PinKeys::generate();
        let generated_vapid = random_vapid_key();
        Self {
            environment: Environment::Development,
            database_url: "sqlite://pinpay.db".into(),
            bind: "127.0.0.1:8080".into(),
            workers: 2,
            jwt_secret: Secret::new(random_secret()),
            pepper: Secret::new(DEV_PEPPER),
            pin_keys: generated_keys.0,
            pin_keys_generated: Some(generated_keys.1),
            admin_token: None,
            sca_device_required_above: None,
            vapid_private_key: Some(Secret::new(generated_vapid.clone())),
            vapid_generated: Some(generated_vapid),
            vapid_subject: "mailto:operator@pinpay.invalid".into(),
            public_url: "http://127.0.0.1:8080".into(),
            timezone: "Europe/Berlin".into(),
            callback_allow_private: false,
            argon2: Argon2Params::default(),
            app_token_ttl_secs: 15 * 60,
            api_token_ttl_secs: 30 * 24 * 3600,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            db_pool_size: 10,
            tiers_file: None,
            sweep_interval_ms: 5000,
            delivery_interval_ms: 1000,
            callback_timeout_ms: 15_000,
            idempotency_lease_secs: 10,
            db_checkout_timeout_ms: 5000,
            db_call_timeout_ms: 10_000,
            sqlite_busy_timeout_ms: 1500,
            header_timeout_ms: 5000,
            body_timeout_ms: 10_000,
            max_connections: 1024,
            listen_backlog: 4096,
            max_connections_per_address: 64,
            pressure_timeout_ms: 1000,
            max_streams: 0,
            max_streams_per_address: 8,
            max_streams_per_subject: 16,
            stream_lifetime_secs: 300,
            throttle: Default::default(),
            smtp: None,
            sms: None,
            reload_sandbox_secret: Secret::new(DEV_RELOAD_SECRET),
            reload_sandbox_delay_ms: 2000,
            reload_acquirer: None,
            reload_order_ttl_secs: 24 * 3600,
        }
    }

    /// Reads the environment (after an optional `.env`) over the development defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = Self::development();
        c.environment = match get("PINPAY_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some("sandbox") => Environment::Sandbox,
            Some(other) => {
                return Err(ConfigError(format!(
                    "PINPAY_ENV must be development, production or sandbox, not {other:?}"
                )))
            }
        };
        let production = c.environment == Environment::Production;
        if let Some(v) = get("DATABASE_URL") {
            c.database_url = v;
        }
        if let Some(v) = get("PINPAY_BIND") {
            c.bind = if v.starts_with(':') {
                format!("127.0.0.1{v}")
            } else {
                v
            };
        }
        match get("PINPAY_PUBLIC_URL") {
            Some(v) => c.public_url = v.trim_end_matches('/').to_string(),
            // Without one, links point at the address the server listens on.
            None if !c.bind.ends_with(":0") => c.public_url = local_url(&c.bind),
            None => {}
        }
        if let Some(v) = get("PINPAY_TIMEZONE") {
            c.timezone = v;
        }
        c.callback_allow_private = parse_or(&get, "PINPAY_CALLBACK_ALLOW_PRIVATE", false)?;
        c.workers = parse_or(&get, "PINPAY_WORKERS", c.workers)?;
        c.db_pool_size = parse_or(&get, "PINPAY_DB_POOL_SIZE", c.db_pool_size)?;
        c.argon2.memory_kib = parse_or(&get, "PINPAY_ARGON2_MEMORY_KIB", c.argon2.memory_kib)?;
        c.argon2.iterations = parse_or(&get, "PINPAY_ARGON2_ITERATIONS", c.argon2.iterations)?;
        c.argon2.parallelism = parse_or(&get, "PINPAY_ARGON2_PARALLELISM", c.argon2.parallelism)?;
        c.app_token_ttl_secs = parse_or(&get, "PINPAY_APP_TOKEN_TTL_SECS", c.app_token_ttl_secs)?;
        c.api_token_ttl_secs = parse_or(&get, "PINPAY_API_TOKEN_TTL_SECS", c.api_token_ttl_secs)?;

        match get("PINPAY_JWT_SECRET") {
            Some(s) => c.jwt_secret = Secret::new(s),
            None if production => {
                return Err(ConfigError(
                    "PINPAY_JWT_SECRET is required in production".into(),
                ))
            }
            None => tracing::warn!("PINPAY_JWT_SECRET unset: using a random secret for this run"),
        }
        match get("PINPAY_PEPPER") {
            Some(s) => c.pepper = Secret::new(s),
            None if production => {
                return Err(ConfigError(
                    "PINPAY_PEPPER is required in production".into(),
                ))
            }
            None => tracing::warn!("PINPAY_PEPPER unset: using the development pepper"),
        }
        match get("PINPAY_PIN_KEYS") {
            Some(s) => {
                c.pin_keys = crate::domain::pin_tag::PinKeys::parse(&s)
                    .map_err(|e| ConfigError(format!("PINPAY_PIN_KEYS: {e}")))?;
                c.pin_keys_generated = None;
            }
            None if production => {
                return Err(ConfigError(
                    "PINPAY_PIN_KEYS is required in production: VERSION:BASE64KEY, at least \
                     32 random bytes (e.g. 1:$(openssl rand -base64 32)); PINs are tagged \
                     with it and cannot be verified without it"
                        .into(),
                ))
            }
            None => {}
        }
        c.admin_token = get("PINPAY_ADMIN_TOKEN").map(Secret::new);
        if let Some(subject) = get("PINPAY_VAPID_SUBJECT") {
            c.vapid_subject = subject;
        }
        match get("PINPAY_VAPID_PRIVATE_KEY") {
            Some(k) => {
                c.vapid_private_key = Some(Secret::new(k));
                c.vapid_generated = None;
            }
            None if production => {
                tracing::warn!(
                    "PINPAY_VAPID_PRIVATE_KEY unset: the wallet app gets no push notifications"
                );
                c.vapid_private_key = None;
                c.vapid_generated = None;
            }
            None => {}
        }
        c.sca_device_required_above = match get("PINPAY_SCA_DEVICE_REQUIRED_ABOVE") {
            None => None,
            Some(v) if v.trim().is_empty() || v.trim() == "off" => None,
            Some(v) => Some(
                crate::domain::money::Money::parse(v.trim())
                    .filter(|m| *m >= crate::domain::money::Money::ZERO)
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "PINPAY_SCA_DEVICE_REQUIRED_ABOVE: {v:?} is not an amount in EUR \
                             (e.g. 30.00) or off"
                        ))
                    })?,
            ),
        };
        if let Some(s) = get("PINPAY_RELOAD_SANDBOX_SECRET") {
            c.reload_sandbox_secret = Secret::new(s);
        }
        c.reload_sandbox_delay_ms = parse_or(
            &get,
            "PINPAY_RELOAD_SANDBOX_DELAY_MS",
            c.reload_sandbox_delay_ms,
        )?;
        if let Some(url) = get("PINPAY_RELOAD_ACQUIRER_URL") {
            let mac_secret = get("PINPAY_RELOAD_ACQUIRER_MAC_SECRET").ok_or_else(|| {
                ConfigError(
                    "PINPAY_RELOAD_ACQUIRER_URL needs PINPAY_RELOAD_ACQUIRER_MAC_SECRET".into(),
                )
            })?;
            c.reload_acquirer = Some(AcquirerConfig {
                url,
                merchant_code: get("PINPAY_RELOAD_ACQUIRER_MERCHANT_CODE")
                    .unwrap_or_else(|| "PINPAY".into()),
                password: get("PINPAY_RELOAD_ACQUIRER_PASSWORD").map(Secret::new),
                mac_secret: Secret::new(mac_secret),
            });
        }
        c.reload_order_ttl_secs = parse_or(
            &get,
            "PINPAY_RELOAD_ORDER_TTL_SECS",
            c.reload_order_ttl_secs,
        )?
        .max(60);
        c.tiers_file = get("PINPAY_TIERS_FILE");
        c.sweep_interval_ms =
            parse_or(&get, "PINPAY_SWEEP_INTERVAL_MS", c.sweep_interval_ms)?.max(10);
        c.delivery_interval_ms =
            parse_or(&get, "PINPAY_DELIVERY_INTERVAL_MS", c.delivery_interval_ms)?.max(10);
        c.callback_timeout_ms =
            parse_or(&get, "PINPAY_CALLBACK_TIMEOUT_MS", c.callback_timeout_ms)?.max(100);
        c.idempotency_lease_secs = parse_or(
            &get,
            "PINPAY_IDEMPOTENCY_LEASE_SECS",
            c.idempotency_lease_secs,
        )?
        .max(1);
        c.db_call_timeout_ms =
            parse_or(&get, "PINPAY_DB_CALL_TIMEOUT_MS", c.db_call_timeout_ms)?.max(500);
        c.db_checkout_timeout_ms = parse_or(
            &get,
            "PINPAY_DB_CHECKOUT_TIMEOUT_MS",
            c.db_checkout_timeout_ms,
        )?
        .max(100);
        c.sqlite_busy_timeout_ms = parse_or(
            &get,
            "PINPAY_SQLITE_BUSY_TIMEOUT_MS",
            c.sqlite_busy_timeout_ms,
        )?;
        c.header_timeout_ms = parse_or(&get, "PINPAY_HEADER_TIMEOUT_MS", c.header_timeout_ms)?;
        c.body_timeout_ms = parse_or(&get, "PINPAY_BODY_TIMEOUT_MS", c.body_timeout_ms)?.max(100);
        c.max_connections = parse_or(&get, "PINPAY_MAX_CONNECTIONS", c.max_connections)?.max(1);
        c.listen_backlog =
            parse_or(&get, "PINPAY_LISTEN_BACKLOG", c.listen_backlog)?.clamp(1, 65535);
        c.max_connections_per_address = parse_or(
            &get,
            "PINPAY_MAX_CONNECTIONS_PER_ADDRESS",
            c.max_connections_per_address,
        )?;
        c.pressure_timeout_ms =
            parse_or(&get, "PINPAY_PRESSURE_TIMEOUT_MS", c.pressure_timeout_ms)?.max(100);
        c.max_streams = parse_or(&get, "PINPAY_MAX_STREAMS", c.max_streams)?;
        c.max_streams_per_address = parse_or(
            &get,
            "PINPAY_MAX_STREAMS_PER_ADDRESS",
            c.max_streams_per_address,
        )?
        .max(1);
        c.max_streams_per_subject = parse_or(
            &get,
            "PINPAY_MAX_STREAMS_PER_SUBJECT",
            c.max_streams_per_subject,
        )?
        .max(1);
        c.stream_lifetime_secs =
            parse_or(&get, "PINPAY_STREAM_LIFETIME_SECS", c.stream_lifetime_secs)?.max(1);
        c.throttle.account_free = parse_or(
            &get,
            "PINPAY_LOGIN_FREE_FAILURES_PER_ACCOUNT",
            c.throttle.account_free,
        )?
        .max(1);
        c.throttle.address_free = parse_or(
            &get,
            "PINPAY_LOGIN_FREE_FAILURES_PER_ADDRESS",
            c.throttle.address_free,
        )?
        .max(1);
        if let Some(host) = get("PINPAY_SMTP_HOST") {
            let tls = match get("PINPAY_SMTP_TLS").as_deref().unwrap_or("starttls") {
                "none" => SmtpTls::None,
                "starttls" => SmtpTls::StartTls,
                "tls" => SmtpTls::Tls,
                other => {
                    return Err(ConfigError(format!(
                        "PINPAY_SMTP_TLS {other:?} is not one of none, starttls, tls"
                    )))
                }
            };
            let default_port = match tls {
                SmtpTls::Tls => 465,
                _ => 587,
            };
            c.smtp = Some(SmtpConfig {
                host,
                port: parse_or(&get, "PINPAY_SMTP_PORT", default_port)?,
                tls,
                username: get("PINPAY_SMTP_USERNAME"),
                password: get("PINPAY_SMTP_PASSWORD").map(Secret::new),
                from: get("PINPAY_SMTP_FROM")
                    .unwrap_or_else(|| "PinPay <no-reply@pinpay.invalid>".into()),
            });
        }
        if let Some(url) = get("PINPAY_SMS_URL") {
            c.sms = Some(SmsConfig {
                url,
                token: get("PINPAY_SMS_TOKEN").map(Secret::new),
                sender: get("PINPAY_SMS_SENDER").unwrap_or_else(|| "PinPay".into()),
            });
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks the invariants the rest of the program relies on.
    /// Whether the built-in sandbox reload provider still has its published MAC secret
    /// (anyone can sign with it, so it is accepted from outside only in the sandbox).
    pub fn published_reload_secret(&self) -> bool {
        self.reload_sandbox_secret.expose() == DEV_RELOAD_SECRET
    }

    /// The cap on event streams: as set, or a quarter of all connection slots (0), and
    /// never more than half of them, so streams always leave room for the API.
    pub fn stream_cap(&self) -> usize {
        let slots = self.max_connections * self.workers.max(1);
        match self.max_streams {
            0 => (slots / 4).max(1),
            n => n.min((slots / 2).max(1)),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.jwt_secret.expose().len() < MIN_SECRET_BYTES {
            return Err(ConfigError(format!(
                "PINPAY_JWT_SECRET is too weak: at least {MIN_SECRET_BYTES} bytes are required"
            )));
        }
        if self.environment == Environment::Production {
            let pepper = self.pepper.expose();
            if pepper == DEV_PEPPER || pepper.len() < MIN_PEPPER_BYTES {
                return Err(ConfigError(format!(
                    "PINPAY_PEPPER is too weak: at least {MIN_PEPPER_BYTES} bytes, not the development value"
                )));
            }
            if let Some(t) = &self.admin_token {
                let bits = crate::domain::secrets::estimated_bits(t.expose());
                if t.expose().len() < MIN_SECRET_BYTES || bits < MIN_OPERATOR_TOKEN_BITS {
                    return Err(ConfigError(format!(
                        "PINPAY_ADMIN_TOKEN is too weak: at least {MIN_SECRET_BYTES} bytes and \
                         {MIN_OPERATOR_TOKEN_BITS} bits of estimated entropy, no repeated pattern \
                         (this one: about {bits:.0} bits); generate one with `openssl rand -hex 32`"
                    )));
                }
            }
        }
        let a = self.argon2;
        if a.memory_kib < 19 * 1024 || a.iterations < 2 || a.parallelism < 1 {
            return Err(ConfigError(
                "argon2 parameters below the OWASP minimum (m=19456 KiB, t=2, p=1)".into(),
            ));
        }
        if let Some(sms) = &self.sms {
            crate::domain::contact::sms_sender(&sms.sender).map_err(ConfigError)?;
            if url::Url::parse(&sms.url).is_err() {
                return Err(ConfigError("PINPAY_SMS_URL is not a URL".into()));
            }
        }
        if let Some(a) = &self.reload_acquirer {
            if !matches!(url::Url::parse(&a.url), Ok(u) if matches!(u.scheme(), "http" | "https")) {
                return Err(ConfigError(
                    "PINPAY_RELOAD_ACQUIRER_URL is not an http(s) URL".into(),
                ));
            }
            if a.mac_secret.expose().len() < 16 {
                return Err(ConfigError(
                    "PINPAY_RELOAD_ACQUIRER_MAC_SECRET is too weak: at least 16 bytes".into(),
                ));
            }
        }
        if let Some(smtp) = &self.smtp {
            if smtp.from.parse::<lettre::message::Mailbox>().is_err() {
                return Err(ConfigError(format!(
                    "PINPAY_SMTP_FROM {:?} is not an address",
                    smtp.from
                )));
            }
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError(format!(
                "PINPAY_TIMEZONE {:?} is unknown",
                self.timezone
            )));
        }
        Ok(())
    }
}

fn parse_or<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ConfigError(format!("{name} has an invalid value {v:?}"))),
    }
}

/// A fresh VAPID signing key: 32 random bytes (a valid P-256 scalar with overwhelming
/// probability; `notify::push` checks it at start), base64url.
pub fn random_vapid_key() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_local_url_follows_the_bind_address() {
        assert_eq!(super::local_url("127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(super::local_url("0.0.0.0:9000"), "http://127.0.0.1:9000");
        assert_eq!(super::local_url("localhost:0"), "http://localhost:PORT");
    }

    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const STRONG: &str = "0123456789abcdef0123456789abcdef";
    const PIN_KEY: (&str, &str) = (
        "PINPAY_PIN_KEYS",
        "1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    );

    #[test]
    fn development_needs_no_configuration() {
        let c = load(&[]).unwrap();
        assert_eq!(
            (c.bind.as_str(), c.database_url.as_str()),
            ("127.0.0.1:8080", "sqlite://pinpay.db")
        );
        assert!(c.jwt_secret.expose().len() >= 32);
        assert_eq!(load(&[("PINPAY_BIND", ":0")]).unwrap().bind, "127.0.0.1:0");
    }

    #[test]
    fn production_refuses_missing_or_weak_secrets_and_says_which() {
        let err = |vars: &[(&str, &str)]| load(vars).unwrap_err().to_string();
        let prod = ("PINPAY_ENV", "production");
        assert!(err(&[
            prod,
            ("PINPAY_JWT_SECRET", STRONG),
            ("PINPAY_PEPPER", STRONG)
        ])
        .contains("PINPAY_PIN_KEYS is required"));
        assert!(err(&[
            prod,
            ("PINPAY_JWT_SECRET", STRONG),
            ("PINPAY_PEPPER", STRONG),
            ("PINPAY_PIN_KEYS", "1:c2hvcnQ=")
        ])
        .contains("PINPAY_PIN_KEYS: key version 1 has 5 bytes"));
        assert!(err(&[prod, ("PINPAY_PEPPER", STRONG), PIN_KEY])
            .contains("PINPAY_JWT_SECRET is required"));
        assert!(err(&[
            prod,
            ("PINPAY_JWT_SECRET", "short"),
            ("PINPAY_PEPPER", STRONG),
            PIN_KEY
        ])
        .contains("PINPAY_JWT_SECRET is too weak"));
        assert!(err(&[prod, ("PINPAY_JWT_SECRET", STRONG)]).contains("PINPAY_PEPPER is required"));
        assert!(err(&[
            prod,
            ("PINPAY_JWT_SECRET", STRONG),
            ("PINPAY_PEPPER", DEV_PEPPER),
            PIN_KEY
        ])
        .contains("PINPAY_PEPPER is too weak"));
        assert!(load(&[
            prod,
            ("PINPAY_JWT_SECRET", STRONG),
            ("PINPAY_PEPPER", STRONG),
            PIN_KEY
        ])
        .is_ok());
        // An operator token a person made up: long enough, but a pattern.
        for weak in [
            "operator-token-".repeat(4),
            "a".repeat(64),
            "1234".repeat(10),
        ] {
            let message = err(&[
                prod,
                ("PINPAY_JWT_SECRET", STRONG),
                ("PINPAY_PEPPER", STRONG),
                PIN_KEY,
                ("PINPAY_ADMIN_TOKEN", &weak),
            ]);
            assert!(
                message.contains("PINPAY_ADMIN_TOKEN is too weak"),
                "{weak}: {message}"
            );
        }
        assert!(load(&[
            prod,
            ("PINPAY_JWT_SECRET", STRONG),
            ("PINPAY_PEPPER", STRONG),
            PIN_KEY,
            (
                "PINPAY_ADMIN_TOKEN",
                "9f2c4e7a1b3d5f60718293a4b5c6d7e89f2c4e7a1b3d5f60"
            ),
        ])
        .is_ok());
    }

    #[test]
    fn sms_sender_names_longer_than_20_characters_are_refused() {
        let err = load(&[
            ("PINPAY_SMS_URL", "http://127.0.0.1:9/sms"),
            ("PINPAY_SMS_SENDER", "PinPay Payments Europe"),
        ])
        .unwrap_err();
        assert!(err.0.contains("PINPAY_SMS_SENDER"), "{err}");
        let ok = load(&[
            ("PINPAY_SMS_URL", "http://127.0.0.1:9/sms"),
            ("PINPAY_SMS_SENDER", "PinPay Shop"),
        ]);
        assert_eq!(ok.unwrap().sms.unwrap().sender, "PinPay Shop");
    }

    #[test]
    fn argon2_below_the_owasp_minimum_is_refused() {
        assert!(load(&[("PINPAY_ARGON2_MEMORY_KIB", "1024")]).is_err());
        assert!(load(&[("PINPAY_TIMEZONE", "Mars/Olympus")]).is_err());
    }
}
