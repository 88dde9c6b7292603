//! The `pinpay` command: `serve` (default) and `migrate`.

use pinpay::clock::Clock;
use pinpay::config::Config;
use pinpay::db::Db;
use pinpay::startup::Application;
use std::process::ExitCode;

const USAGE: &str = "usage: pinpay [serve | migrate]

  serve     run the API server (default)
  migrate   apply database migrations and exit

Configuration comes from the environment (PINPAY_*, DATABASE_URL) and an optional .env.";

fn main() -> ExitCode {
    dotenvy::dotenv().ok();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,actix_server=warn".into()),
        )
        .init();
    let command = std::env::args().nth(1);
    let result = match command.as_deref() {
        None | Some("serve") => serve(),
        Some("migrate") => migrate(),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinpay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config, Clock::system()).await?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn migrate() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    Db::connect(&config.database_url, 1)?.migrate()
}
