//! Database access: one connection type over SQLite and PostgreSQL, the pool, the
//! transaction helper and the embedded migrations.

pub mod accounts;
pub mod breaker;
pub mod changes;
pub mod listen;
pub mod models;
pub mod schema;
pub mod writer;

use crate::error::{ApiError, ApiResult};
use breaker::{Breaker, TripOnConnectError};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite://") || url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            Err(format!(
                "DATABASE_URL must start with sqlite:// or postgres://, got {url:?}"
            ))
        }
    }
}

/// Establishes the backend chosen by the URL scheme (the derived `establish` would guess).
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
    backend: Backend,
    busy_timeout: Duration,
}

impl Manager {
    pub fn new(url: &str) -> Result<Self, String> {
        Self::with_busy_timeout(url, Duration::from_millis(1500))
    }

    /// `busy_timeout`: how long a SQLite statement waits for another process's write
    /// lock. PostgreSQL connects give up after 2 s unless the URL says otherwise.
    pub fn with_busy_timeout(url: &str, busy_timeout: Duration) -> Result<Self, String> {
        let backend = Backend::from_url(url)?;
        let url = if backend == Backend::Postgres && !url.contains("connect_timeout=") {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}connect_timeout=2")
        } else {
            url.to_string()
        };
        Ok(Self {
            url,
            backend,
            busy_timeout,
        })
    }

    fn sqlite_path(&self) -> &str {
        let rest = self.url.strip_prefix("sqlite:").unwrap_or(&self.url);
        rest.strip_prefix("//").unwrap_or(rest)
    }
}

/// The SQLite checkpointer: copies the WAL into the database file every half second
/// (`PASSIVE`: it waits for nobody and blocks nobody) on a connection of its own, until
/// the `Db` is gone. The pool's connections never checkpoint themselves, so no commit
/// waits on a checkpoint's writes and fsyncs.
fn checkpoints(path: String, alive: std::sync::Weak<()>) {
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut conn: Option<SqliteConnection> = None;
            while alive.upgrade().is_some() {
                std::thread::sleep(Duration::from_millis(500));
                if conn.is_none() {
                    conn = SqliteConnection::establish(&path).ok();
                }
                let Some(c) = conn.as_mut() else { continue };
                if let Err(e) = c.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                    crate::error::log_bounded("sqlite checkpoint failed", &e);
                    conn = None;
                }
            }
        })
        .expect("a thread starts");
}

/// How long after a connection last answered it is handed out without a check.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// A pooled connection and when it last answered. One that answered within
/// [`TRUSTED_FOR`] is handed out without the `SELECT 1` check (one round trip less per
/// checkout on PostgreSQL); one idle longer, or whose last work failed on the server's
/// side, is checked first, so connections broken by an outage are found before use.
pub struct Tracked {
    conn: DbConn,
    answered: Option<Instant>,
}

impl std::ops::Deref for Tracked {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl std::ops::DerefMut for Tracked {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

impl Tracked {
    /// Records how the work on the connection ended: a success or a client's error means
    /// the server answered.
    fn settle<T>(&mut self, done: &ApiResult<T>) {
        let answered = match done {
            Ok(_) => true,
            Err(e) => !e.status.is_server_error(),
        };
        self.answered = answered.then(Instant::now);
    }
}

impl Manager {
    fn establish(&self) -> Result<DbConn, r2d2::Error> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url)
                .map(DbConn::Pg)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let mut c = SqliteConnection::establish(self.sqlite_path())
                    .map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the one writer; FULL makes commits durable.
                // Checkpoints run on their own thread (`checkpoints`), never inside a
                // commit, whose latency would otherwise carry their fsyncs.
                c.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = 0;",
                    self.busy_timeout.as_millis()
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(c))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = Tracked;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Tracked, r2d2::Error> {
        Ok(Tracked {
            conn: self.establish()?,
            answered: Some(Instant::now()),
        })
    }

    fn is_valid(&self, conn: &mut Tracked) -> Result<(), r2d2::Error> {
        if conn.answered.is_some_and(|at| at.elapsed() < TRUSTED_FOR) {
            return Ok(());
        }
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)?;
        conn.answered = Some(Instant::now());
        Ok(())
    }

    fn has_broken(&self, conn: &mut Tracked) -> bool {
        matches!(
            <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(
                &mut conn.conn
            )
            .transaction_depth(),
            Err(_) | Ok(Some(_))
        )
    }
}

pub type DbPool = Pool<Manager>;
pub type PooledConn = PooledConnection<Manager>;

/// The pool plus the one helper that runs blocking database work off the executor.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    pub backend: Backend,
    breaker: Arc<Breaker>,
    checkout_timeout: Duration,
    writer: Arc<writer::WriterLock>,
    /// One permit per pooled connection: see `Db::slot`.
    slots: Arc<tokio::sync::Semaphore>,
    /// Fired after work that wrote outbox events succeeded (its transaction committed).
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Fired when another instance moved the sandbox's test clock (PostgreSQL `NOTIFY`).
    pub clock_wake: Arc<tokio::sync::Notify>,
    /// Committed changes of money requests, for the live streams (see `changes`).
    pub changes: changes::Feed,
    url: String,
    /// Alive while any clone of this `Db` is: the SQLite checkpointer stops after it.
    _alive: Arc<()>,
}

/// How the pool waits: for a free connection, and (SQLite) for another process's lock.
#[derive(Clone, Copy, Debug)]
pub struct DbOptions {
    pub max_size: u32,
    pub checkout_timeout: Duration,
    pub busy_timeout: Duration,
}

impl DbOptions {
    pub fn new(max_size: u32) -> Self {
        Self {
            max_size,
            checkout_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_millis(1500),
        }
    }
}

impl Db {
    pub fn connect(url: &str, max_size: u32) -> Result<Self, String> {
        Self::open(url, DbOptions::new(max_size))
    }

    pub fn open(url: &str, options: DbOptions) -> Result<Self, String> {
        let manager = Manager::with_busy_timeout(url, options.busy_timeout)?;
        let backend = manager.backend;
        let alive = Arc::new(());
        if backend == Backend::Sqlite {
            checkpoints(manager.sqlite_path().to_string(), Arc::downgrade(&alive));
        }
        let breaker = Breaker::new(manager.clone());
        let pool = Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(1))
            .connection_timeout(options.checkout_timeout)
            .error_handler(Box::new(TripOnConnectError(breaker.clone())))
            .build(manager)
            .map_err(|e| format!("cannot open the database: {e}"))?;
        Ok(Self {
            pool,
            backend,
            breaker,
            checkout_timeout: options.checkout_timeout,
            writer: writer::WriterLock::new(options.busy_timeout),
            slots: Arc::new(tokio::sync::Semaphore::new(options.max_size as usize)),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            clock_wake: Arc::new(tokio::sync::Notify::new()),
            changes: changes::Feed::default(),
            url: url.to_string(),
            _alive: alive,
        })
    }

    /// Pooled connections open now, and how many of them are idle.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool. The checkout
    /// happens inside the closure so no connection is held across an `.await`.
    pub async fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&mut DbConn) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let deadline = Instant::now() + self.checkout_timeout;
        let _slot = self.slot(deadline).await?;
        let db = self.clone();
        actix_web::web::block(move || {
            writer::with_current(&db.writer, || {
                OUTBOX_WRITTEN.with(|w| w.set(false));
                changes::clear();
                let mut conn = db.checkout(deadline)?;
                let done = f(&mut conn);
                conn.settle(&done);
                if OUTBOX_WRITTEN.with(|w| w.replace(false)) && done.is_ok() {
                    db.outbox_wake.notify_one();
                }
                for change in changes::take() {
                    if done.is_ok() {
                        db.changes.publish(change);
                    }
                }
                done
            })
        })
        .await?
    }

    /// A turn to run work on a pooled connection. Work beyond the pool's size waits here,
    /// on the executor and in arrival order, instead of on a blocking thread of its own:
    /// in a burst, hundreds of threads parked on the pool and the SQLite writer queue
    /// halved the rate at which the backlog drained. 503 at the `deadline` (the turn and
    /// the checkout share one checkout timeout), or at once while the circuit is open.
    async fn slot(&self, deadline: Instant) -> ApiResult<tokio::sync::SemaphorePermit<'_>> {
        if self.breaker.is_open() {
            return Err(ApiError::unavailable());
        }
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        match tokio::time::timeout_at(deadline.into(), self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                crate::error::log_bounded("no database connection in time", &"all in use");
                Err(ApiError::unavailable())
            }
        }
    }

    /// A connection, or 503 at once while the circuit is open: the wait for a free
    /// connection is cut into short slices so an outage found meanwhile ends it.
    fn checkout(&self, deadline: Instant) -> ApiResult<PooledConn> {
        loop {
            if self.breaker.is_open() {
                return Err(ApiError::unavailable());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.pool.get_timeout(left.min(Duration::from_millis(100))) {
                Ok(conn) => return Ok(conn),
                Err(e) if left <= Duration::from_millis(100) => {
                    crate::error::log_bounded("no database connection in time", &e);
                    return Err(ApiError::unavailable());
                }
                Err(_) => {}
            }
        }
    }

    /// A connection of its own (outside the pool) for PostgreSQL `LISTEN`.
    pub fn listener(&self) -> Result<PgConnection, String> {
        let manager = Manager::new(&self.url)?;
        PgConnection::establish(&manager.url).map_err(|e| e.to_string())
    }

    /// Whether the database takes work: the circuit is closed and (SQLite) no other
    /// process holds the write lock. Answers within `READY_BUDGET` whatever the pool's
    /// checkout timeout: a load balancer asks often and must not wait.
    pub async fn ready(&self) -> ApiResult<()> {
        const READY_BUDGET: Duration = Duration::from_millis(900);
        let probe = self.run(|c| write_tx(c, |c| Ok(c.batch_execute("SELECT 1")?)));
        match tokio::time::timeout(READY_BUDGET, probe).await {
            Ok(answer) => answer,
            Err(_) => Err(ApiError::unavailable()),
        }
    }

    /// Applies pending migrations of the connected backend.
    pub fn migrate(&self) -> Result<(), String> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| format!("cannot connect: {e}"))?;
        let applied = match &mut **conn {
            DbConn::Pg(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len()),
            DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        }
        .map_err(|e| format!("migration failed: {e}"))?;
        tracing::info!(applied, backend = ?self.backend, "migrations up to date");
        Ok(())
    }

    pub fn get(&self) -> ApiResult<PooledConn> {
        self.checkout(Instant::now() + self.checkout_timeout)
    }
}

thread_local! {
    static OUTBOX_WRITTEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks that the work running on this thread wrote an outbox event: once it succeeds,
/// `Db::run` wakes the delivery worker. True for the first event of the work.
pub fn outbox_written() -> bool {
    !OUTBOX_WRITTEN.with(|w| w.replace(true))
}

/// Runs `f` in one write transaction: `BEGIN IMMEDIATE` on SQLite (takes the write lock
/// up front, so concurrent writers queue instead of failing on lock upgrade), a plain
/// `BEGIN` on PostgreSQL. Any error rolls everything back.
pub fn write_tx<T, F>(conn: &mut DbConn, f: F) -> ApiResult<T>
where
    F: FnOnce(&mut DbConn) -> ApiResult<T>,
{
    let _writer = begin_write(conn)?;
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rb) = <DbConn as Connection>::TransactionManager::rollback_transaction(conn)
            {
                tracing::error!(error = %rb, "rollback failed");
            }
            Err(e)
        }
    }
}

/// Runs `f` in one read-only snapshot, so several statements see the same data: a
/// repeatable-read transaction on PostgreSQL, a deferred one on SQLite (WAL keeps its
/// snapshot from the first read).
pub fn read_snapshot<T, F>(conn: &mut DbConn, f: F) -> ApiResult<T>
where
    F: FnOnce(&mut DbConn) -> ApiResult<T>,
{
    match conn {
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction_sql(
            c,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )?,
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?,
    }
    let result = f(conn);
    if let Err(e) = <DbConn as Connection>::TransactionManager::commit_transaction(conn) {
        tracing::error!(error = %e, "ending a read snapshot failed");
        let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
    }
    result
}

/// Begins the write transaction; on SQLite first takes this process's turn (see
/// `writer`), held until the returned guard drops.
fn begin_write(conn: &mut DbConn) -> ApiResult<Option<writer::WriterGuard>> {
    let c = match conn {
        DbConn::Pg(c) => {
            AnsiTransactionManager::begin_transaction(c)?;
            return Ok(None);
        }
        DbConn::Sqlite(c) => c,
    };
    let Some(lock) = writer::current() else {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
        return Ok(None);
    };
    let (guard, left) = lock.acquire().ok_or_else(ApiError::unavailable)?;
    let busy = |c: &mut SqliteConnection, wait: Duration| {
        c.batch_execute(&format!(
            "PRAGMA busy_timeout = {}",
            wait.as_millis().max(1)
        ))
    };
    busy(c, left)?;
    let begun = AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE");
    busy(c, lock.budget)?;
    begun?;
    Ok(Some(guard))
}

/// Maps a unique-constraint violation to the given client error, anything else to 500.
pub fn unique_violation(e: diesel::result::Error, err: impl FnOnce() -> ApiError) -> ApiError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => err(),
        other => other.into(),
    }
}

#[derive(diesel::QueryableByName)]
struct DbNow {
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    now: chrono::NaiveDateTime,
}

/// The database server's current time (UTC) plus the app clock's offset: deadlines
/// are judged by one clock shared by every instance, which tests can still move.
pub fn db_now(
    conn: &mut DbConn,
    clock: &crate::clock::Clock,
) -> QueryResult<chrono::NaiveDateTime> {
    let sql = match conn {
        DbConn::Pg(_) => "SELECT CAST(clock_timestamp() AT TIME ZONE 'UTC' AS TIMESTAMP) AS now",
        DbConn::Sqlite(_) => "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now') AS now",
    };
    diesel::sql_query(sql)
        .get_result::<DbNow>(conn)
        .map(|n| n.now + clock.offset())
}

/// Whether `key` can equal any stored text. PostgreSQL text cannot hold NUL and PinPay
/// stores none (free text refuses control characters; names and ids have fixed
/// alphabets), so a lookup by a key containing NUL matches nothing and must not reach
/// the database, which would refuse the parameter.
pub fn matchable(key: &str) -> bool {
    !key.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_beyond_the_pool_waits_for_a_turn_and_gives_up_after_the_checkout_timeout() {
        let path = std::env::temp_dir().join(format!("pinpay-slots-{}.db", std::process::id()));
        let url = format!("sqlite://{}", path.display());
        let options = DbOptions {
            max_size: 1,
            checkout_timeout: Duration::from_millis(300),
            busy_timeout: Duration::from_millis(300),
        };
        let db = Db::open(&url, options).unwrap();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started, has_started) = tokio::sync::oneshot::channel::<()>();
        let holder = {
            let db = db.clone();
            tokio::spawn(async move {
                db.run(move |_| {
                    let _ = started.send(());
                    released.recv().ok();
                    Ok(())
                })
                .await
            })
        };
        has_started.await.unwrap();
        let asked = Instant::now();
        let refused = db.run(|_| Ok(())).await.unwrap_err();
        assert_eq!(
            refused.status,
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE
        );
        assert!(
            asked.elapsed() >= Duration::from_millis(300),
            "it waited its turn first"
        );

        // Callers that arrive while the one connection is busy wait without a thread each,
        // and get it in turn once it is free.
        let threads = || std::fs::read_dir("/proc/self/task").unwrap().count();
        let before = threads();
        let waiting: Vec<_> = (0..50)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { db.run(|c| Ok(c.batch_execute("SELECT 1")?)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let during = threads();
        assert!(
            during < before + 5,
            "50 waiting callers took {} more threads",
            during - before
        );
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        drop(db);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
