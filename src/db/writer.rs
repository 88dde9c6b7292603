//! SQLite has one writer. This process's write transactions queue here, fairly and
//! without the busy handler's sleeps, so SQLite's own busy wait only ever waits for
//! another process. A writer has one budget (the configured busy timeout) for this queue
//! and SQLite's wait together: behind a writer stuck on another process's lock the queue
//! gives up (503) instead of adding up the waits.
//!
//! Each database has its own lock; `Db::run` makes it the current one of the thread that
//! runs the work, where `write_tx` finds it.

use parking_lot::{lock_api::ArcMutexGuard, FairMutex, RawFairMutex};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A fair lock: writers are served in the order they arrived, and a release wakes only
/// the next one in line and hands the lock to it. (A condition variable alone lets a
/// newcomer overtake the sleepers, which starves some of them; waking every sleeper on
/// each release to find the next one costs a wake-up per waiter per write, and under a
/// backlog that cost alone kept the queue from draining.)
pub struct WriterLock {
    turn: Arc<FairMutex<()>>,
    pub budget: Duration,
}

pub struct WriterGuard {
    _turn: ArcMutexGuard<RawFairMutex, ()>,
}

impl WriterLock {
    pub fn new(budget: Duration) -> Arc<Self> {
        Arc::new(Self {
            turn: Arc::new(FairMutex::new(())),
            budget,
        })
    }

    /// Waits for this writer's turn; returns the guard and the time left of the budget
    /// for SQLite's own wait, or `None` when the budget ran out in the queue (the writer
    /// leaves the line, and the ones behind it move up).
    pub fn acquire(&self) -> Option<(WriterGuard, Duration)> {
        let deadline = Instant::now() + self.budget;
        let guard = self.turn.try_lock_arc_for(self.budget)?;
        let left = deadline.saturating_duration_since(Instant::now());
        Some((WriterGuard { _turn: guard }, left))
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
    use std::sync::Mutex;

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
        assert!(
            lock.acquire().is_some(),
            "the writer that gave up left the line"
        );
    }
}
