//! The `pinpay` command: `serve` (default) and `migrate`.

use pinpay::clock::Clock;
use pinpay::config::Config;
use pinpay::db::Db;
use pinpay::startup::Application;
use std::process::ExitCode;

const USAGE: &str = "usage: pinpay [serve | migrate | ledger verify | pins status | demo [--json]]

  serve           run the API server (default)
  migrate         apply database migrations and exit
  ledger verify   check every ledger invariant; exit 1 on a violation
  pins status     how many PINs each PIN key version (and argon2) still holds; exit 1 if
                  some are under a key PINPAY_PIN_KEYS lacks
  demo [--json]   seed a Corporate+ merchant and a funded wallet user; print how to try it


Configuration comes from the environment (PINPAY_*, DATABASE_URL) and an optional .env.";

fn main() -> ExitCode {
    pinpay::startup::bound_malloc_arenas();
    dotenvy::dotenv().ok();
    if let Err(e) = init_logging() {
        eprintln!("pinpay: {e}");
        return ExitCode::FAILURE;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        [] | ["serve"] => serve(),
        ["migrate"] => migrate(),
        ["ledger", "verify"] => verify_ledger(),
        ["pins", "status"] => pins_status(),
        ["demo"] => demo(false),
        ["demo", "--json"] => demo(true),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {:?}\n\n{USAGE}", other.join(" "))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinpay: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr: `PINPAY_LOG_FORMAT=json` (one JSON object a line, for collectors) or
/// `text` (the default; colour only when stderr is a terminal). `RUST_LOG` filters.
fn init_logging() -> Result<(), String> {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,actix_server=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match std::env::var("PINPAY_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().with_current_span(false).init(),
        Ok("text") | Err(_) => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        Ok(other) => {
            return Err(format!(
                "PINPAY_LOG_FORMAT must be json or text, not {other:?}"
            ))
        }
    }
    Ok(())
}

fn serve() -> Result<(), String> {
    let mut config = Config::from_env().map_err(|e| e.to_string())?;
    keep_generated_pin_key(&mut config)?;
    keep_generated_vapid_key(&mut config)?;
    if config.environment == pinpay::config::Environment::Development {
        tracing::warn!(
            "DEVELOPMENT MODE (PINPAY_ENV is not production): development secrets and \
             defaults are accepted, the built-in sandbox reload provider is offered and \
             callbacks may go to private addresses if allowed. Never take payments like this: \
             set PINPAY_ENV=production (it refuses weak secrets) or PINPAY_ENV=sandbox."
        );
    }
    match pinpay::startup::raise_open_files_limit() {
        Ok((before, after)) => {
            let connections = config.workers.max(1) * config.max_connections;
            tracing::info!(before, after, connections, "open files limit");
            // Besides connections: the database pool, the listener, the log, a few files.
            let needed = connections + config.db_pool_size as usize + 32;
            if (after as usize) < needed {
                tracing::warn!(
                    limit = after,
                    connections,
                    "the open files limit is below the connections the server accepts \
                     (PINPAY_WORKERS x PINPAY_MAX_CONNECTIONS): raise it or lower them"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the open files limit"),
    }
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config, Clock::system()).await?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

/// Development without `PINPAY_PIN_KEYS`: the generated key goes to `./.env` (which
/// `serve` and `demo` read), so PINs set now still verify after a restart.
fn keep_generated_pin_key(config: &mut Config) -> Result<(), String> {
    let Some(value) = config.pin_keys_generated.take() else {
        return Ok(());
    };
    let mut env = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(".env")
        .map_err(|e| format!("cannot write .env for PINPAY_PIN_KEYS: {e}"))?;
    use std::io::Write;
    writeln!(env, "PINPAY_PIN_KEYS={value}").map_err(|e| e.to_string())?;
    tracing::warn!(
        "PINPAY_PIN_KEYS was unset: a new PIN key is in ./.env; keep it, PINs set under it \
         cannot be verified without it"
    );
    Ok(())
}

/// Development without `PINPAY_VAPID_PRIVATE_KEY`: the generated key goes to `./.env`, so
/// the app's push subscriptions (bound to its public key) still work after a restart.
fn keep_generated_vapid_key(config: &mut Config) -> Result<(), String> {
    let Some(value) = config.vapid_generated.take() else {
        return Ok(());
    };
    let mut env = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(".env")
        .map_err(|e| format!("cannot write .env for PINPAY_VAPID_PRIVATE_KEY: {e}"))?;
    use std::io::Write;
    writeln!(env, "PINPAY_VAPID_PRIVATE_KEY={value}").map_err(|e| e.to_string())?;
    tracing::warn!("PINPAY_VAPID_PRIVATE_KEY was unset: a new Web Push key is in ./.env");
    Ok(())
}

fn pins_status() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let db = Db::connect(&config.database_url, 1)?;
    db.migrate()?;
    let mut conn = db.get().map_err(|e| e.detail)?;
    let census = pinpay::services::identity::pins::key_census(&mut conn, &config.pin_keys)
        .map_err(|e| e.detail)?;
    let newest = config.pin_keys.newest();
    for (version, n) in &census.by_version {
        let mark = if *version == newest { " (newest)" } else { "" };
        println!("key version {version}{mark}: {n} PINs");
    }
    println!("argon2 (from before keyed PINs): {} PINs", census.argon2);
    println!(
        "under a key version not configured here: {} PINs",
        census.other
    );
    if census.other > 0 {
        return Err(format!(
            "{} PINs are under a key PINPAY_PIN_KEYS does not have: they cannot be verified",
            census.other
        ));
    }
    Ok(())
}

fn migrate() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    Db::connect(&config.database_url, 1)?.migrate()
}

fn verify_ledger() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let db = Db::connect(&config.database_url, 1)?;
    db.migrate()?;
    let mut conn = db.get().map_err(|e| e.detail)?;
    let report = pinpay::ledger::verify::verify(&mut conn)
        .map_err(|e| format!("cannot read the ledger: {e}"))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
    );
    if report.ok {
        Ok(())
    } else {
        Err(format!(
            "{} ledger invariant violation(s)",
            report.violations.len()
        ))
    }
}

fn demo(json: bool) -> Result<(), String> {
    let mut config = Config::from_env().map_err(|e| e.to_string())?;
    if config.environment == pinpay::config::Environment::Production {
        return Err(
            "demo seeds accounts with known passwords; it does not run in production".into(),
        );
    }
    // Tokens are signed with PINPAY_JWT_SECRET: without one, `serve` would pick another at
    // random and refuse them. Keep one in .env, which `serve` reads too. A server already
    // running signs with its own secret: then the tokens come from it (below), and .env
    // stays as it is.
    let base = pinpay::config::local_url(&config.bind);
    let running = actix_web::rt::System::new().block_on(pinpay::demo::server_at(&base));
    let mut wrote_env = false;
    if std::env::var("PINPAY_JWT_SECRET").is_err() && !running {
        let secret = pinpay::web::random_token();
        let mut env = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(".env")
            .map_err(|e| format!("cannot write .env for PINPAY_JWT_SECRET: {e}"))?;
        use std::io::Write;
        writeln!(env, "PINPAY_JWT_SECRET={secret}").map_err(|e| e.to_string())?;
        config.jwt_secret = pinpay::config::Secret::new(secret);
        wrote_env = true;
    }
    // PINs are tagged with PINPAY_PIN_KEYS: the same rule. Beside a running server the
    // demo's PINs are set again through it (`demo::tokens_from`), under its key.
    if !running {
        keep_generated_pin_key(&mut config)?;
    }
    actix_web::rt::System::new().block_on(async move {
        let state = pinpay::startup::build_state(config, Clock::system()).await?;
        let mut seeded = pinpay::demo::seed(&state).await.map_err(|e| e.to_string())?;
        if running {
            pinpay::demo::tokens_from(&base, &mut seeded).await?;
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&seeded).map_err(|e| e.to_string())?);
            return Ok(());
        }
        println!("Seeded (password {} for both, PIN {}):", seeded.password, seeded.pin);
        println!("  merchant {} (Corporate+), wallet {} with 500.00 EUR", seeded.merchant, seeded.wallet);
        if wrote_env {
            println!("  PINPAY_JWT_SECRET was unset: a new one is in ./.env, which `pinpay serve` reads");
        }
        if running {
            println!("\nThe server at {base} is running and issued these tokens; paste:\n");
        } else {
            println!("\nStart the server from this directory (cargo run --release), then paste:\n");
        }
        for line in &seeded.commands {
            println!("{line}");
        }
        if let Some(secret) = seeded.webhook_secret {
            println!("\nCallback signing secret (shown once; verify callbacks with it): {secret}");
        }
        println!("\nThe wallet token lasts PINPAY_APP_TOKEN_TTL_SECS (15 minutes by default): run `pinpay demo` again for fresh tokens (earlier API tokens stay valid).");
        Ok(())
    })
}
