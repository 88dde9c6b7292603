//! The change feed: which money requests changed, for the live streams (the hosted
//! page's and the wallet's). A change is noted in the transaction that makes it. Once
//! that commits it reaches the streams of every instance: on PostgreSQL through
//! `NOTIFY` (delivered on commit only, to every listening instance, this one included),
//! on SQLite in process after `Db::run` saw the work succeed. A change only wakes a
//! stream; the stream reads the truth from the database, so a lost or duplicated
//! change costs at most a fallback poll or one read.

use super::DbConn;
use crate::error::ApiResult;
use std::cell::RefCell;
use tokio::sync::broadcast;

/// The PostgreSQL channel on which committed changes reach every instance.
pub const CHANNEL: &str = "pinpay_changes";

/// A money request changed (created for a payer, addressed, paid, declined, expired,
/// cancelled); `payer` is the wallet it is addressed to, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub request: String,
    pub payer: Option<i64>,
}

impl Change {
    /// `mr_…:payer` (payer empty for an open link): the `NOTIFY` payload.
    pub fn encode(&self) -> String {
        match self.payer {
            Some(p) => format!("{}:{p}", self.request),
            None => format!("{}:", self.request),
        }
    }

    pub fn decode(payload: &str) -> Option<Self> {
        let (request, payer) = payload.split_once(':')?;
        Some(Self {
            request: request.to_string(),
            payer: payer.parse().ok(),
        })
    }
}

/// This instance's side of the feed: streams subscribe, committed changes are published.
#[derive(Clone)]
pub struct Feed(broadcast::Sender<Change>);

impl Default for Feed {
    fn default() -> Self {
        Self(broadcast::channel(4096).0)
    }
}

impl Feed {
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.0.subscribe()
    }

    pub fn publish(&self, change: Change) {
        // No subscriber is fine: nobody is watching.
        let _ = self.0.send(change);
    }
}

thread_local! {
    static NOTED: RefCell<Vec<Change>> = const { RefCell::new(Vec::new()) };
}

/// Notes, in the caller's transaction, that the request changed.
pub fn note(c: &mut DbConn, request: &str, payer: Option<i64>) -> ApiResult<()> {
    let change = Change {
        request: request.to_string(),
        payer,
    };
    match c {
        DbConn::Pg(_) => super::notify(c, CHANNEL, change.encode()),
        DbConn::Sqlite(_) => NOTED.with(|n| n.borrow_mut().push(change)),
    }
    Ok(())
}

/// Forgets what earlier work on this thread noted (called before work starts).
pub(super) fn clear() {
    NOTED.with(|n| n.borrow_mut().clear());
}

/// What the work on this thread noted (SQLite), to publish once it has succeeded.
pub(super) fn take() -> Vec<Change> {
    NOTED.with(|n| std::mem::take(&mut *n.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        for change in [
            Change {
                request: "mr_abc".into(),
                payer: Some(42),
            },
            Change {
                request: "mr_abc".into(),
                payer: None,
            },
        ] {
            assert_eq!(Change::decode(&change.encode()), Some(change));
        }
        assert_eq!(Change::decode("garbage"), None);
    }
}
