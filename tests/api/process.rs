//! The real `pinpay` binary as a child process on a fixed port (a restart keeps the
//! address), for the tests that kill or signal it.

use crate::helpers::{ADMIN_TOKEN, JWT_SECRET};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server as a child process on a fixed port, so a restart keeps its address.
pub struct ServerProcess {
    extra: Vec<(String, String)>,
    child: Option<Child>,
    port: u16,
    url: String,
    log: std::path::PathBuf,
}

impl ServerProcess {
    /// Starts the binary on `db_url` with the test settings plus `extra` variables.
    pub fn start(db_url: &str, extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!("pinpay-crash-{port}.log"));
        let mut s = Self {
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            port,
            url: db_url.to_string(),
            log,
        };
        s.spawn();
        s
    }

    /// Starts it (again) on the same port and database.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_pinpay"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.url)
            .env("PINPAY_BIND", format!("127.0.0.1:{}", self.port))
            .env("PINPAY_JWT_SECRET", JWT_SECRET)
            .env("PINPAY_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("PINPAY_CALLBACK_ALLOW_PRIVATE", "true")
            .env("PINPAY_WORKERS", "2")
            .envs(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the pinpay binary");
        self.child = Some(child);
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().unwrap();
        }
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl ServerProcess {
    /// SIGTERM, then waits (at most `limit`) for the process to exit; returns how long it
    /// took, or `None` if it was still running.
    pub fn terminate(&mut self, limit: Duration) -> Option<Duration> {
        let child = self.child.as_mut()?;
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        while started.elapsed() < limit {
            if child.try_wait().unwrap().is_some() {
                self.child = None;
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Polls `/health` until the server answers (60 s at most).
pub async fn wait_healthy(client: &reqwest::Client, address: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(res) = client.get(format!("{address}/health")).send().await {
            if res.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come back");
}
