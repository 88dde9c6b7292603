//! What both benchmarks share: a fresh database on the backend the command line names,
//! and the server's settings.

pub mod load;

use pinpay::config::{Config, Secret};

pub const ADMIN: &str = "bench-operator-token-0123456789abcdef";

/// The bench server's settings on `db_url`: a free port, fixed secrets, the operator API.
pub fn config(db_url: &str) -> Config {
    let mut c = Config::development();
    c.database_url = db_url.to_string();
    c.bind = "127.0.0.1:0".into();
    c.jwt_secret = Secret::new("bench-jwt-secret-0123456789abcdef0123456789");
    c.admin_token = Some(Secret::new(ADMIN));
    c
}

/// A fresh database: a new one on the PostgreSQL server named by a `postgres://…`
/// argument, else a SQLite file in a new temporary directory. Prints the backend and
/// returns the URL and what removes the database again.
pub fn fresh_database(prefix: &str) -> (String, Box<dyn FnOnce()>) {
    let arg = std::env::args().skip(1).find(|a| a.starts_with("postgres"));
    let name = format!("{prefix}_{}", std::process::id());
    let (url, cleanup): (String, Box<dyn FnOnce()>) = match arg {
        Some(admin) => {
            use diesel::{Connection, PgConnection, RunQueryDsl};
            let mut c = PgConnection::establish(&admin).expect("connect to PostgreSQL");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .unwrap();
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(b, _)| b)
                .to_string();
            (
                format!("{base}/{name}?sslmode=disable"),
                Box::new(move || {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut c);
                }),
            )
        }
        None => {
            let dir = std::env::temp_dir().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite://{}", dir.join("bench.db").display());
            (
                url,
                Box::new(move || {
                    let _ = std::fs::remove_dir_all(dir);
                }),
            )
        }
    };
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("backend: {backend}");
    (url, cleanup)
}
