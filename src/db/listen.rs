//! PostgreSQL: one `LISTEN` connection per instance that turns other instances' (and
//! this one's) commits into wake-ups here: new callback events wake the delivery worker
//! (except this instance's own, whose worker `Db::run` woke), and changed money requests
//! reach the live streams.

use super::changes::{self, Change};
use super::Db;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Listens until `listening` turns false. The connection's input is read without a
/// round trip every 10 ms; on a lost connection it reconnects (polling covers the gap).
pub fn listen(db: Db, listening: Arc<AtomicBool>) {
    let outbox = crate::services::messaging::outbox::CHANNEL;
    let own = db.instance.to_string();
    while listening.load(Ordering::Acquire) {
        let mut conn = match db.listener() {
            Ok(conn) => conn,
            Err(_) => {
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let subscribed = format!("LISTEN {outbox}; LISTEN {}", changes::CHANNEL);
        if diesel::connection::SimpleConnection::batch_execute(&mut conn, &subscribed).is_err() {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        'connected: while listening.load(Ordering::Acquire) {
            let mut woken = false;
            for note in conn.notifications_iter() {
                match note {
                    Ok(n) if n.channel == outbox => woken |= n.payload != own,
                    Ok(n) => {
                        if let Some(change) = Change::decode(&n.payload) {
                            db.changes.publish(change);
                        }
                    }
                    Err(_) => break 'connected,
                }
            }
            if woken {
                db.outbox_wake.notify_one();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
