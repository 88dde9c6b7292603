//! A minimal SMTP server on loopback that records each message's recipient and data
//! (the benches use it too).

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub data: String,
}

pub async fn start(port: u16) -> Arc<Mutex<Vec<Mail>>> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let shared = mails.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let mails = shared.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 test ESMTP\r\n").await;
                let (mut to, mut data, mut in_data) = (String::new(), String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            mails.lock().unwrap().push(Mail {
                                to: to.clone(),
                                data: std::mem::take(&mut data),
                            });
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-test\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        to = line[8..].trim().trim_matches(['<', '>']).to_string();
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    mails
}

/// What a listener received.
pub type Mailbox = Arc<Mutex<Vec<Mail>>>;

/// One listener for the whole test process, on its own thread (a test's runtime ends with
/// the test): every server a test starts mails here unless the test brings its own.
pub fn shared() -> (u16, Mailbox) {
    static SHARED: std::sync::OnceLock<(u16, Mailbox)> = std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    tx.send(start(port).await).unwrap();
                    std::future::pending::<()>().await
                })
            });
            (port, rx.recv().unwrap())
        })
        .clone()
}

/// The confirmation code in the newest e-mail to `to`, waiting up to 15 s for one.
pub async fn confirmation_code(mailbox: &Mailbox, to: &str) -> String {
    const MARK: &str = "confirmation code is ";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let code = mailbox
            .lock()
            .unwrap()
            .iter()
            .rev()
            .filter(|m| m.to.eq_ignore_ascii_case(to))
            .find_map(|m| {
                let at = m.data.find(MARK)? + MARK.len();
                Some(m.data[at..at + 6].to_string())
            });
        if let Some(code) = code {
            return code;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no confirmation code was mailed to {to}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
