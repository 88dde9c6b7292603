//! PostgreSQL: one `LISTEN` connection per instance that hands each notification's
//! payload to what the layer above subscribed for its channel (the delivery worker's
//! wake-up, the live streams' feed). It knows channels and payloads, nothing more.

use super::Db;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A channel and what to do with each payload that arrives on it.
pub struct Subscription {
    pub channel: &'static str,
    pub deliver: Box<dyn Fn(&str) + Send>,
}

/// Listens until `listening` turns false. The connection's input is read without a
/// round trip every 10 ms; on a lost connection it reconnects (polling covers the gap).
pub fn listen(db: Db, listening: Arc<AtomicBool>, subscriptions: Vec<Subscription>) {
    let subscribed: String = subscriptions
        .iter()
        .map(|s| format!("LISTEN {};", s.channel))
        .collect();
    while listening.load(Ordering::Acquire) {
        let mut conn = match db.listener() {
            Ok(conn) => conn,
            Err(_) => {
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if diesel::connection::SimpleConnection::batch_execute(&mut conn, &subscribed).is_err() {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        'connected: while listening.load(Ordering::Acquire) {
            for note in conn.notifications_iter() {
                match note {
                    Ok(n) => {
                        if let Some(s) = subscriptions.iter().find(|s| s.channel == n.channel) {
                            (s.deliver)(&n.payload);
                        }
                    }
                    Err(_) => break 'connected,
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
