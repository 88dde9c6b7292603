//! SQLite has one writer. This process's write transactions queue here, fairly and
//! without the busy handler's sleeps, so SQLite's own busy wait only ever waits for
//! another process. A writer has one budget (the configured busy timeout) for this queue
//! and SQLite's wait together: behind a writer stuck on another process's lock the queue
//! gives up (503) instead of adding up the waits.
//!
//! Each database has its own lock; `Db::run` makes it the current one of the thread that
//! runs the work, where `write_tx` finds it.

use std::cell::RefCell;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub struct WriterLock {
    held: Mutex<bool>,
    freed: Condvar,
    pub budget: Duration,
}

pub struct WriterGuard(Arc<WriterLock>);

impl WriterLock {
    pub fn new(budget: Duration) -> Arc<Self> {
        Arc::new(Self {
            held: Mutex::new(false),
            freed: Condvar::new(),
            budget,
        })
    }

    /// Waits for this process's turn; returns the guard and the time left of the budget
    /// for SQLite's own wait, or `None` when the budget ran out in the queue.
    pub fn acquire(self: &Arc<Self>) -> Option<(WriterGuard, Duration)> {
        let deadline = Instant::now() + self.budget;
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        while *held {
            let left = deadline.checked_duration_since(Instant::now())?;
            held = self
                .freed
                .wait_timeout(held, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *held = true;
        let left = deadline.saturating_duration_since(Instant::now());
        Some((WriterGuard(self.clone()), left))
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        *self.0.held.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.0.freed.notify_one();
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<WriterLock>>> = const { RefCell::new(None) };
}

/// Runs `f` with `lock` as this thread's current writer lock.
pub fn with_current<T>(lock: &Arc<WriterLock>, f: impl FnOnce() -> T) -> T {
    struct Reset(Option<Arc<WriterLock>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|c| *c.borrow_mut() = self.0.take());
        }
    }
    let previous = CURRENT.with(|c| c.borrow_mut().replace(lock.clone()));
    let _reset = Reset(previous);
    f()
}

/// The writer lock of the database this thread works on, if it runs under `Db::run`.
pub fn current() -> Option<Arc<WriterLock>> {
    CURRENT.with(|c| c.borrow().clone())
}
