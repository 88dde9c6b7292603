//! SQLite has one writer. This process's write transactions queue here, fairly and
//! without the busy handler's sleeps, so SQLite's own busy wait only ever waits for
//! another process. A writer has one budget (the configured busy timeout) for this queue
//! and SQLite's wait together: behind a writer stuck on another process's lock the queue
//! gives up (503) instead of adding up the waits.
//!
//! Each database has its own lock; `Db::run` makes it the current one of the thread that
//! runs the work, where `write_tx` finds it.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A ticket queue: writers are served in the order they arrived (a condition variable
/// alone lets a newcomer overtake the sleepers, which starves some of them under load).
pub struct WriterLock {
    queue: Mutex<Queue>,
    freed: Condvar,
    pub budget: Duration,
}

#[derive(Default)]
struct Queue {
    next: u64,
    serving: u64,
    /// Tickets whose holders gave up waiting; skipped when their turn comes.
    abandoned: BTreeSet<u64>,
}

impl Queue {
    fn advance(&mut self) {
        self.serving += 1;
        while self.abandoned.remove(&self.serving) {
            self.serving += 1;
        }
    }
}

pub struct WriterGuard(Arc<WriterLock>);

impl WriterLock {
    pub fn new(budget: Duration) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(Queue::default()),
            freed: Condvar::new(),
            budget,
        })
    }

    /// Waits for this writer's turn; returns the guard and the time left of the budget
    /// for SQLite's own wait, or `None` when the budget ran out in the queue.
    pub fn acquire(self: &Arc<Self>) -> Option<(WriterGuard, Duration)> {
        let deadline = Instant::now() + self.budget;
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = q.next;
        q.next += 1;
        while q.serving != ticket {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                q.abandoned.insert(ticket);
                return None;
            };
            q = self
                .freed
                .wait_timeout(q, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        Some((WriterGuard(self.clone()), left))
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.0
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .advance();
        self.0.freed.notify_all();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_are_served_in_arrival_order_and_a_newcomer_queues_behind_them() {
        let lock = WriterLock::new(Duration::from_secs(5));
        let held = lock.acquire().unwrap().0;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for n in 0..4 {
            let (lock, order) = (lock.clone(), order.clone());
            waiters.push(std::thread::spawn(move || {
                let (guard, _) = lock.acquire().unwrap();
                order.lock().unwrap().push(n);
                drop(guard);
            }));
            std::thread::sleep(Duration::from_millis(20)); // arrive one after the other
        }
        // The holder lets go and asks again at once: it must not overtake the sleepers.
        drop(held);
        let again = lock.acquire().unwrap().0;
        order.lock().unwrap().push(99);
        drop(again);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 99]);
    }

    #[test]
    fn a_writer_that_gave_up_does_not_block_the_ones_behind_it() {
        let lock = WriterLock::new(Duration::from_millis(100));
        let held = lock.acquire().unwrap().0;
        let quitter = {
            let lock = lock.clone();
            std::thread::spawn(move || lock.acquire().is_some())
        };
        assert!(!quitter.join().unwrap(), "its budget ran out in the queue");
        drop(held);
        assert!(lock.acquire().is_some(), "the abandoned ticket is skipped");
    }
}
