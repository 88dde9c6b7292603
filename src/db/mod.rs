//! Database access: one connection type over SQLite and PostgreSQL, the pool, the
//! transaction helper and the embedded migrations.

pub mod accounts;
pub mod breaker;
pub mod changes;
pub mod listen;
pub mod models;
pub mod push_subscriptions;
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
    /// PostgreSQL's `statement_timeout` on every connection.
    statement_timeout: Duration,
}

impl Manager {
    pub fn new(url: &str) -> Result<Self, String> {
        Self::with_busy_timeout(url, Duration::from_millis(1500))
    }

    /// `busy_timeout`: how long a SQLite statement waits for another process's write
    /// lock. PostgreSQL connects give up after 2 s, and a connection whose peer went
    /// silent is found dead within seconds (TCP keepalives every 2 s after 5 s idle, and
    /// sent data unacknowledged for 10 s), unless the URL says otherwise.
    pub fn with_busy_timeout(url: &str, busy_timeout: Duration) -> Result<Self, String> {
        let backend = Backend::from_url(url)?;
        let mut url = url.to_string();
        if backend == Backend::Postgres {
            for (key, value) in [
                ("connect_timeout", "2"),
                ("keepalives", "1"),
                ("keepalives_idle", "5"),
                ("keepalives_interval", "2"),
                ("keepalives_count", "3"),
                ("tcp_user_timeout", "10000"),
            ] {
                if !url.contains(&format!("{key}=")) {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    url = format!("{url}{sep}{key}={value}");
                }
            }
        }
        Ok(Self {
            url,
            backend,
            busy_timeout,
            statement_timeout: Duration::from_secs(10),
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
            Backend::Postgres => {
                let mut c =
                    PgConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                c.batch_execute(&format!(
                    "SET statement_timeout = {}",
                    self.statement_timeout.as_millis()
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Pg(c))
            }
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
    call_timeout: Duration,
    writer: Arc<writer::WriterLock>,
    /// One permit per pooled connection: see `Db::slot`.
    slots: Arc<tokio::sync::Semaphore>,
    /// Fired after work that wrote outbox events (see `Db::run`).
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// This instance's tag in its outbox `NOTIFY`s: its listener skips their echo, as
    /// `Db::run` has already woken its own worker.
    pub instance: u64,
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
    /// The longest one piece of work may take: a call still inside the database then
    /// answers 503 (a silent network loss must not hang requests), and PostgreSQL cancels
    /// any statement running longer (`statement_timeout`).
    pub call_timeout: Duration,
}

impl DbOptions {
    pub fn new(max_size: u32) -> Self {
        Self {
            max_size,
            checkout_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_millis(1500),
            call_timeout: Duration::from_secs(10),
        }
    }
}

impl Db {
    pub fn connect(url: &str, max_size: u32) -> Result<Self, String> {
        Self::open(url, DbOptions::new(max_size))
    }

    pub fn open(url: &str, options: DbOptions) -> Result<Self, String> {
        let mut manager = Manager::with_busy_timeout(url, options.busy_timeout)?;
        manager.statement_timeout = options.call_timeout;
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
            call_timeout: options.call_timeout,
            writer: writer::WriterLock::new(options.busy_timeout),
            slots: Arc::new(tokio::sync::Semaphore::new(options.max_size as usize)),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            instance: rand::random::<u64>() | 1,
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
        let work = actix_web::web::block(move || {
            writer::with_current(&db.writer, || {
                OUTBOX_WRITTEN.with(|w| w.set(false));
                INSTANCE.with(|i| i.set(db.instance));
                changes::clear();
                forget_notifications();
                let mut conn = db.checkout(deadline)?;
                let done = f(&mut conn);
                if let (Ok(_), DbConn::Pg(c)) = (&done, &mut **conn) {
                    if let Err(e) = send_notifications(c) {
                        tracing::warn!(error = %e, "notifications after the work were not sent");
                    }
                }
                conn.settle(&done);
                // Also after a failure: the work may have committed an event before it
                // failed, and this instance's listener skips the event's `NOTIFY`. A
                // wake-up for nothing costs one read.
                if OUTBOX_WRITTEN.with(|w| w.replace(false)) {
                    db.outbox_wake.notify_one();
                }
                for change in changes::take() {
                    if done.is_ok() {
                        db.changes.publish(change);
                    }
                }
                done
            })
        });
        // A call that hangs (a silent network loss) answers 503 here; its thread goes on
        // until the connection's keepalive or the statement timeout ends it.
        match tokio::time::timeout(self.call_timeout, work).await {
            Ok(done) => done?,
            Err(_) => Err(ApiError::database_timeout()),
        }
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

/// Marks that the work running on this thread wrote an outbox event: once it is done,
/// `Db::run` wakes the delivery worker. True for the first event of the work.
pub fn outbox_written() -> bool {
    !OUTBOX_WRITTEN.with(|w| w.replace(true))
}

thread_local! {
    /// The instance whose `Db::run` runs work on this thread (0: none).
    static INSTANCE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The tag of the instance running the work on this thread, for its outbox `NOTIFY`s
/// (empty outside `Db::run`: every listener then wakes).
pub fn instance_tag() -> String {
    match INSTANCE.with(|i| i.get()) {
        0 => String::new(),
        tag => tag.to_string(),
    }
}

thread_local! {
    /// PostgreSQL notifications of the work on this thread, not sent yet.
    static NOTIFY: std::cell::RefCell<Vec<(&'static str, String)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `NOTIFY channel, payload` with the caller's transaction (PostgreSQL delivers it when
/// the transaction commits, and drops it if it rolls back). The notifications of one
/// write transaction go out in one statement just before its `COMMIT`; any noted outside
/// `write_tx` are sent once the work has succeeded. No-op on SQLite.
pub fn notify(c: &DbConn, channel: &'static str, payload: String) {
    if let DbConn::Pg(_) = c {
        NOTIFY.with(|n| n.borrow_mut().push((channel, payload)));
    }
}

#[derive(diesel::QueryableByName)]
struct Notified {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[allow(dead_code)]
    channel: String,
}

/// Sends the notifications noted so far on this thread, in one statement.
fn send_notifications(c: &mut PgConnection) -> QueryResult<()> {
    let (channels, payloads): (Vec<&str>, Vec<String>) =
        NOTIFY.with(|n| std::mem::take(&mut *n.borrow_mut()).into_iter().unzip());
    if channels.is_empty() {
        return Ok(());
    }
    use diesel::sql_types::{Array, Text};
    Cached(
        diesel::sql_query(
            "SELECT n.channel FROM unnest($1::text[], $2::text[]) AS n(channel, payload), \
             pg_notify(n.channel, n.payload)",
        )
        .bind::<Array<Text>, _>(channels)
        .bind::<Array<Text>, _>(payloads),
    )
    .load::<Notified>(c)?;
    Ok(())
}

/// Forgets the notifications noted on this thread (its transaction rolled back, or new
/// work starts).
fn forget_notifications() {
    NOTIFY.with(|n| n.borrow_mut().clear());
}

/// Runs `f` in one write transaction: `BEGIN IMMEDIATE` on SQLite (takes the write lock
/// up front, so concurrent writers queue instead of failing on lock upgrade), a plain
/// `BEGIN` on PostgreSQL. Any error rolls everything back. Its commit is on disk before
/// it returns.
pub fn write_tx<T, F>(conn: &mut DbConn, f: F) -> ApiResult<T>
where
    F: FnOnce(&mut DbConn) -> ApiResult<T>,
{
    in_write_tx(conn, Durability::Synced, f)
}

/// `write_tx` for bookkeeping whose loss in a power failure or a database crash does no
/// harm: leases, PIN checks in flight, delivery records (delivery is at least once). Its
/// commit does not wait for the disk (PostgreSQL `synchronous_commit = off`, SQLite
/// `synchronous = NORMAL`). The log keeps commit order, and the next synced commit
/// flushes everything before it, so a crash can only lose the tail of such commits after
/// the last synced one. Money never moves in one.
pub fn lazy_tx<T, F>(conn: &mut DbConn, f: F) -> ApiResult<T>
where
    F: FnOnce(&mut DbConn) -> ApiResult<T>,
{
    in_write_tx(conn, Durability::Lazy(None), f)
}

/// `lazy_tx` serialised with every other one under the same `key`, across instances: on
/// PostgreSQL the transaction takes the advisory lock `key` as it begins (in the same
/// round trip), on SQLite the write lock already serialises it.
pub fn lazy_tx_locked<T, F>(conn: &mut DbConn, key: i64, f: F) -> ApiResult<T>
where
    F: FnOnce(&mut DbConn) -> ApiResult<T>,
{
    in_write_tx(conn, Durability::Lazy(Some(key)), f)
}

/// Whether a write transaction's commit waits for the disk (and, if lazy, the advisory
/// lock it takes first on PostgreSQL).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    Synced,
    Lazy(Option<i64>),
}

fn in_write_tx<T, F>(conn: &mut DbConn, durability: Durability, f: F) -> ApiResult<T>
where
    F: FnOnce(&mut DbConn) -> ApiResult<T>,
{
    let _writer = begin_write(conn, durability)?;
    let done = f(conn).and_then(|value| match conn {
        DbConn::Pg(c) => send_notifications(c)
            .map(|()| value)
            .map_err(ApiError::from),
        DbConn::Sqlite(_) => Ok(value),
    });
    let result = match done {
        Ok(value) => <DbConn as Connection>::TransactionManager::commit_transaction(conn)
            .map(|()| value)
            .map_err(ApiError::from),
        Err(e) => {
            forget_notifications();
            if let Err(rb) = <DbConn as Connection>::TransactionManager::rollback_transaction(conn)
            {
                tracing::error!(error = %rb, "rollback failed");
            }
            Err(e)
        }
    };
    // A SQLite connection's setting outlives the transaction: back to synced, so that
    // nothing written next on this connection outside `write_tx` is lazy by accident.
    if let (Durability::Lazy(_), DbConn::Sqlite(c)) = (durability, &mut *conn) {
        if let Err(e) = c.batch_execute("PRAGMA synchronous = FULL") {
            tracing::error!(error = %e, "restoring synchronous = FULL failed");
        }
    }
    result
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

/// Begins the write transaction with its durability; on SQLite first takes this process's
/// turn (see `writer`), held until the returned guard drops. A synced one sets SQLite's
/// `synchronous = FULL` itself, whatever the connection did before.
fn begin_write(
    conn: &mut DbConn,
    durability: Durability,
) -> ApiResult<Option<writer::WriterGuard>> {
    let c = match conn {
        DbConn::Pg(c) => {
            match durability {
                Durability::Synced => AnsiTransactionManager::begin_transaction(c)?,
                Durability::Lazy(lock) => {
                    let mut sql = "BEGIN; SET LOCAL synchronous_commit TO OFF".to_string();
                    if let Some(key) = lock {
                        sql.push_str(&format!("; SELECT pg_advisory_xact_lock({key})"));
                    }
                    if let Err(e) = AnsiTransactionManager::begin_transaction_sql(c, &sql) {
                        // The BEGIN may have run without the rest: leave no open transaction.
                        let _ = c.batch_execute("ROLLBACK");
                        return Err(e.into());
                    }
                }
            }
            return Ok(None);
        }
        DbConn::Sqlite(c) => c,
    };
    let synchronous = match durability {
        Durability::Synced => "FULL",
        Durability::Lazy(_) => "NORMAL",
    };
    let Some(lock) = writer::current() else {
        c.batch_execute(&format!("PRAGMA synchronous = {synchronous}"))?;
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
        return Ok(None);
    };
    let (guard, left) = lock.acquire().ok_or_else(ApiError::unavailable)?;
    c.batch_execute(&format!(
        "PRAGMA busy_timeout = {}; PRAGMA synchronous = {synchronous}",
        left.as_millis().max(1)
    ))?;
    let begun = AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE");
    c.batch_execute(&format!(
        "PRAGMA busy_timeout = {}",
        lock.budget.as_millis().max(1)
    ))?;
    begun?;
    Ok(Some(guard))
}

/// A statement kept in the connection's prepared-statement cache under its SQL text.
/// Diesel prepares every `UPDATE` and every raw SQL query anew on each call (SQLite
/// compiles it, PostgreSQL parses and plans it), because such SQL may change with the
/// values. Wrap only statements whose values are all bind parameters: then the SQL text
/// is the same for every call of the same shape and the cache holds one statement per
/// shape.
///
/// Run it with `get_result`, `get_results` or `load` (an `UPDATE` returns its key for
/// that). Diesel's `execute` hands the statement on behind a reference, and its cache check
/// of a reference walks the wrapped statement itself: it would be prepared anew.
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(pub Q);

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Cached<Q>
where
    Q: diesel::query_builder::QueryFragment<DB>,
    DB: diesel::backend::Backend,
{
    fn walk_ast<'b>(&'b self, pass: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

/// No static id: the cache is keyed by the SQL text (and the binds' types).
impl<Q> diesel::query_builder::QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Cached<Q> {}

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
    Cached(diesel::sql_query(sql))
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

    #[derive(QueryableByName)]
    struct Synchronous {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        synchronous: i32,
    }

    #[derive(QueryableByName)]
    struct SynchronousCommit {
        #[diesel(sql_type = diesel::sql_types::Text)]
        synchronous_commit: String,
    }

    /// How the connection's next commit reaches the disk: SQLite's `synchronous` (2 is
    /// FULL, 1 NORMAL), PostgreSQL's `synchronous_commit`.
    fn durability(c: &mut DbConn) -> String {
        match c {
            DbConn::Sqlite(c) => diesel::sql_query("PRAGMA synchronous")
                .get_result::<Synchronous>(c)
                .unwrap()
                .synchronous
                .to_string(),
            DbConn::Pg(c) => {
                diesel::sql_query("SHOW synchronous_commit")
                    .get_result::<SynchronousCommit>(c)
                    .unwrap()
                    .synchronous_commit
            }
        }
    }

    /// PostgreSQL: the notifications of a write transaction reach a listener once it
    /// commits (all of them, however many the work noted), none of a transaction that
    /// rolled back, and one noted outside a transaction once the work has succeeded.
    /// Skipped without `PINPAY_TEST_DATABASE_URL`.
    #[tokio::test]
    async fn notifications_go_out_with_the_commit_and_never_after_a_rollback() {
        let Some(url) = std::env::var("PINPAY_TEST_DATABASE_URL")
            .ok()
            .filter(|v| !v.is_empty())
        else {
            return;
        };
        let channel = "pinpay_test_notify";
        let options = DbOptions {
            max_size: 1,
            checkout_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(10),
        };
        let db = Db::open(&url, options).unwrap();
        let mut listener = db.listener().unwrap();
        listener
            .batch_execute(&format!("LISTEN {channel}"))
            .unwrap();
        let tag = format!("{}", std::process::id());
        let note = |what: &str| format!("{tag}:{what}");
        let (a, b, rolled, outside) = (note("a"), note("b"), note("rolled"), note("outside"));
        db.run(move |c| {
            write_tx(c, |c| {
                notify(c, channel, a);
                notify(c, channel, b);
                Ok(())
            })?;
            let failed: ApiResult<()> = write_tx(c, |c| {
                notify(c, channel, rolled);
                Err(ApiError::internal())
            });
            assert!(failed.is_err());
            notify(c, channel, outside);
            Ok(())
        })
        .await
        .unwrap();
        let mut seen = Vec::new();
        let until = Instant::now() + Duration::from_secs(5);
        while seen.len() < 3 && Instant::now() < until {
            for n in listener.notifications_iter() {
                let n = n.unwrap();
                if n.payload.starts_with(&tag) {
                    seen.push(n.payload);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whatever might still come for the rolled-back one has had time to arrive.
        std::thread::sleep(Duration::from_millis(200));
        for n in listener.notifications_iter() {
            seen.push(n.unwrap().payload);
        }
        assert_eq!(seen, [note("a"), note("b"), note("outside")]);
    }

    /// A lazy commit does not wait for the disk, and leaves nothing lazy behind it: the
    /// next write on the connection (a transaction, or a statement on its own) is synced
    /// again, after a commit and after a rollback alike. On PostgreSQL too when
    /// `PINPAY_TEST_DATABASE_URL` is set.
    #[tokio::test]
    async fn a_lazy_transaction_skips_the_disk_wait_and_leaves_the_connection_synced() {
        let path = std::env::temp_dir().join(format!("pinpay-lazy-{}.db", std::process::id()));
        let mut urls = vec![(format!("sqlite://{}", path.display()), "1", "2")];
        if let Some(pg) = std::env::var("PINPAY_TEST_DATABASE_URL")
            .ok()
            .filter(|v| !v.is_empty())
        {
            urls.push((pg, "off", "on"));
        }
        for (url, lazy, synced) in urls {
            let options = DbOptions {
                max_size: 1,
                checkout_timeout: Duration::from_secs(5),
                busy_timeout: Duration::from_secs(5),
                call_timeout: Duration::from_secs(10),
            };
            let db = Db::open(&url, options).unwrap();
            let seen = db
                .run(move |c| {
                    let mut seen = vec![durability(c)];
                    seen.push(lazy_tx(c, |c| Ok(durability(c)))?);
                    seen.push(durability(c));
                    let failed: ApiResult<()> = lazy_tx(c, |_| Err(ApiError::internal()));
                    assert!(failed.is_err());
                    seen.push(durability(c));
                    seen.push(write_tx(c, |c| Ok(durability(c)))?);
                    Ok(seen)
                })
                .await
                .unwrap();
            assert_eq!(seen, [synced, lazy, synced, synced, synced], "{url}");
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    #[tokio::test]
    async fn work_beyond_the_pool_waits_for_a_turn_and_gives_up_after_the_checkout_timeout() {
        let path = std::env::temp_dir().join(format!("pinpay-slots-{}.db", std::process::id()));
        let url = format!("sqlite://{}", path.display());
        let options = DbOptions {
            max_size: 1,
            checkout_timeout: Duration::from_millis(300),
            busy_timeout: Duration::from_millis(300),
            call_timeout: Duration::from_secs(10),
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
