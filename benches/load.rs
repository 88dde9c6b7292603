//! The load benchmark: every hot operation's throughput and latency, approval → callback
//! latency and delivery throughput, with the release build and a loopback receiver, on
//! SQLite (default) or PostgreSQL.
//!
//! ```sh
//! cargo bench --bench load                                   # SQLite
//! cargo bench --bench load -- postgres://postgres@127.0.0.1:5432/postgres
//! BENCH_EVENTS=300 cargo bench --bench load                  # a smaller burst
//! ```
//!
//! Phases: approvals at 30/s; the approval maximum (16 concurrent payers) and the
//! database floor (the approval's own transaction, called without HTTP or PIN check);
//! approvals at 80 % of it; per operation (create, approve with 1 wallet and
//! with 9 wallets, status read, wallet inbox, transfer) the closed-loop maximum and then
//! 70 % of it offered open loop (see `common/load.rs`), and for creates a burst at 130 %
//! of the maximum for 2 s (how the backlog drains); on PostgreSQL approvals through a
//! second instance; a burst of events that all fall due at once after their first attempt
//! was answered 503 with `Retry-After` (delivery throughput). Callback latency is measured
//! from the moment the approval's response arrives to the callback's arrival (0 if the
//! callback came first).

#[path = "common/mod.rs"]
mod common;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use common::{config, load, ADMIN};
use pinpay::auth::hashing::Hasher;
use pinpay::clock::Clock;
use pinpay::config::Config;
use pinpay::startup::Application;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

const PASSWORD: &str = "correct horse battery";
const PIN: &str = "482915";
const PAYERS: usize = 16;

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// While set, the receiver answers 503 with `Retry-After: 3600` (the burst phase).
static BUSY: AtomicBool = AtomicBool::new(false);

async fn receive(
    body: web::Bytes,
    arrivals: web::Data<Arrivals>,
    _req: HttpRequest,
) -> HttpResponse {
    if BUSY.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "3600"))
            .finish();
    }
    let at = Instant::now();
    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
        if let Some(id) = v["data"]["id"].as_str() {
            arrivals.lock().unwrap().entry(id.to_string()).or_insert(at);
        }
    }
    HttpResponse::Ok().finish()
}

/// Threads of the load generator and the receiver are named with this prefix, so their
/// CPU time can be told from the server's.
const HARNESS: &str = "bench-";

async fn start_receiver(arrivals: Arrivals, port: u16) -> u16 {
    let data = web::Data::new(arrivals);
    let server = HttpServer::new(move || {
        // Runs on each of the receiver's worker threads as it starts: they are actix
        // workers like the server's, so they are renamed as the harness's.
        let _ = std::fs::write("/proc/thread-self/comm", format!("{HARNESS}receiver"));
        App::new()
            .app_data(data.clone())
            .default_service(web::to(receive))
    })
    .workers(2)
    .bind(("127.0.0.1", port))
    .expect("receiver binds");
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    port
}

struct Bench {
    client: reqwest::Client,
    base: String,
    shop: String,
    payers: Vec<String>,
}

impl Bench {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        // A GET carries no body. With a JSON `null` body (sent until 2026-12-04) one call
        // in nine of the status reads opened a new connection (2570 in 23 000; 71 without).
        if !body.is_null() {
            req = req.json(&body);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        // A call that got no answer (refused, reset, out of sockets) counts as status 0: a
        // failed call in the runs, where it is counted and reported.
        let Ok(res) = req.send().await else {
            return (0, Value::Null);
        };
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let (status, body) = self.call(reqwest::Method::POST, path, token, body).await;
        assert!(status < 300, "{path}: {status} {body}");
        body
    }

    /// `n` pending 1.00 EUR requests, spread over the payers: (payer index, id).
    async fn requests(&self, n: usize) -> Vec<(usize, String)> {
        let mut out = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|i| json!({"payer": format!("payer{}", i % PAYERS), "amount": "1.00", "expires_in": 3600}))
                .collect();
            let res = self
                .post(
                    "/v1/money-requests/bulk",
                    Some(&self.shop),
                    json!({"requests": items}),
                )
                .await;
            for (k, item) in res["data"].as_array().unwrap().iter().enumerate() {
                out.push((
                    chunk[k] % PAYERS,
                    item["money_request"]["id"].as_str().unwrap().to_string(),
                ));
            }
        }
        out
    }
}

/// Requests per wallet in one run of the database floor.
const FLOOR_PER_WALLET: usize = 150;

/// The database floor: the approval's own transaction (`approval::settle_approval`, as the
/// sandbox's simulated payer runs it), called directly on a second server state over the
/// same database: no HTTP, no token, no PIN check. The machine's speed drifts (a VM's
/// steal time moved it by a quarter within minutes), so it is measured right before and
/// right after each approval run, with that run's wallets and clients, and the run is
/// compared with the mean of the two.
struct Floor {
    state: pinpay::state::AppState,
    /// payer0, payer1, …: account ids.
    payers: Vec<i64>,
}

impl Floor {
    async fn new(db_url: &str, clock: Clock) -> Self {
        let state = pinpay::startup::build_state(bench_config(db_url), clock)
            .await
            .expect("the floor's state");
        let mut payers = Vec::new();
        for i in 0..PAYERS {
            let name = format!("payer{i}");
            let id = state
                .db
                .run(move |c| Ok(pinpay::db::accounts::find_by_username(c, &name)?))
                .await
                .unwrap()
                .expect("payer")
                .id;
            payers.push(id);
        }
        Self { state, payers }
    }

    /// Approvals per second of `wallets` wallets' fresh requests, `FLOOR_PER_WALLET` each,
    /// from `clients` concurrent callers.
    async fn measure(&self, bench: &Bench, wallets: usize, clients: usize) -> f64 {
        let queues = queues(bench, wallets, FLOOR_PER_WALLET).await;
        let approved = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        futures::stream::iter(0..wallets * FLOOR_PER_WALLET)
            .for_each_concurrent(clients, |i| {
                let wallet = i % wallets;
                let id = queues[wallet].lock().unwrap().pop();
                let (state, payer, approved) = (&self.state, self.payers[wallet], approved.clone());
                async move {
                    let Some(id) = id else { return };
                    let settled = pinpay::services::payments::requests::approval::settle_approval(
                        state,
                        payer,
                        id,
                        None,
                        pinpay::services::idempotency::unsealed(),
                    )
                    .await;
                    if settled.is_ok() {
                        approved.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .await;
        approved.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    }
}

/// p50, p99 and the slowest of 200 flushes of a 4 KiB write (`fdatasync`) in the
/// temporary directory, where the SQLite bench database lives.
async fn flush_time() -> String {
    tokio::task::spawn_blocking(|| {
        use std::io::{Seek, SeekFrom, Write};
        let path = std::env::temp_dir().join(format!("pinpay-flush-{}", std::process::id()));
        let mut file = std::fs::File::create(&path).expect("flush probe file");
        let ms: Vec<f64> = (0..200)
            .map(|i| {
                file.seek(SeekFrom::Start((i % 64) * 4096)).unwrap();
                file.write_all(&[1u8; 4096]).unwrap();
                let started = Instant::now();
                file.sync_data().unwrap();
                started.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        let _ = std::fs::remove_file(&path);
        let s = load::Stats::of(ms, 0, 1.0);
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            s.p50, s.p99, s.max
        )
    })
    .await
    .unwrap()
}

/// CPU time used so far, in ms: by the server's argon2 threads, by the load generator's
/// and receiver's threads (the harness), by this whole process (server and harness), and
/// by the machine (every process, all cores); and the machine's idle time. From `/proc`,
/// where the kernel counts time in ticks of 1/100 s (`USER_HZ`), and per thread in ns.
struct CpuUse {
    argon2: f64,
    harness: f64,
    process: f64,
    machine: f64,
    idle: f64,
}

impl CpuUse {
    fn now() -> Self {
        let ticks = |text: &str, fields: &[usize]| -> f64 {
            let f: Vec<f64> = text
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0.0))
                .collect();
            fields
                .iter()
                .map(|i| f.get(*i).copied().unwrap_or(0.0))
                .sum::<f64>()
                * 10.0
        };
        let (mut argon2, mut harness) = (0.0, 0.0);
        for task in std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
        {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let sum = match comm {
                c if c.starts_with("argon2-") => &mut argon2,
                c if c.starts_with(HARNESS) => &mut harness,
                _ => continue,
            };
            let sched = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            *sum += sched
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1e6;
        }
        // /proc/self/stat: the fields after the command's closing parenthesis; utime and
        // stime are the 12th and 13th of them.
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        // /proc/stat's first line: user nice system idle iowait irq softirq steal.
        let all = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let cpu = all.lines().next().unwrap_or("").trim_start_matches("cpu");
        Self {
            argon2,
            harness,
            process: ticks(after, &[11, 12]),
            machine: ticks(cpu, &[0, 1, 2, 5, 6]),
            idle: ticks(cpu, &[3, 4]),
        }
    }

    fn since(&self, start: &Self) -> Self {
        Self {
            argon2: self.argon2 - start.argon2,
            harness: self.harness - start.harness,
            process: self.process - start.process,
            machine: self.machine - start.machine,
            idle: self.idle - start.idle,
        }
    }

    /// Per call, in ms: argon2, the rest of the server, the harness, the other processes.
    fn split(&self, calls: usize) -> [f64; 4] {
        let n = calls.max(1) as f64;
        [
            self.argon2 / n,
            (self.process - self.argon2 - self.harness) / n,
            self.harness / n,
            (self.machine - self.process).max(0.0) / n,
        ]
    }

    /// Per call: the server (its argon2 threads apart, where they worked), the harness,
    /// the other processes, and the share of the cores left idle.
    fn per_call(&self, calls: usize) -> String {
        let [argon2, server, harness, other] = self.split(calls);
        let argon2 = match argon2 {
            a if a >= 0.005 => format!(", argon2 {a:.2} ms"),
            _ => String::new(),
        };
        format!(
            "the server {server:.2} ms{argon2}, the load generator and receiver {harness:.2} ms, other processes (the database) {other:.2} ms; {:.0} % of the cores idle",
            self.idle_share()
        )
    }

    fn idle_share(&self) -> f64 {
        100.0 * self.idle / (self.idle + self.machine).max(1.0)
    }
}

/// The machine's TCP counters (`/proc/net/snmp`, `/proc/net/netstat`): connections
/// opened (the load generator's, to the server and the receiver) and connections the
/// kernel refused because a listen queue was full.
struct Tcp {
    opened: i64,
    overflowed: i64,
}

impl Tcp {
    fn now() -> Self {
        // Each file holds pairs of lines, names then values, with a common prefix.
        let field = |file: &str, prefix: &str, name: &str| -> i64 {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let mut lines = text.lines().filter(|l| l.starts_with(prefix));
            let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
                return 0;
            };
            names
                .split_whitespace()
                .zip(values.split_whitespace())
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        Self {
            opened: field("/proc/net/snmp", "Tcp:", "ActiveOpens"),
            overflowed: field("/proc/net/netstat", "TcpExt:", "ListenOverflows"),
        }
    }

    fn since(&self, start: &Self) -> Self {
        Self {
            opened: self.opened - start.opened,
            overflowed: self.overflowed - start.overflowed,
        }
    }

    fn report(&self) -> String {
        format!(
            "{} connections opened, {} refused by a full listen queue",
            self.opened, self.overflowed
        )
    }
}

/// How long each closed-loop and open-loop run lasts.
const RUN: Duration = Duration::from_secs(5);

/// The closed-loop maximum of `op` from `clients` clients, then 70 % of it offered open
/// loop. With a `floor` (approvals, over that many wallets), the database floor is
/// measured right before and right after the closed loop and the maximum's share of their
/// mean is printed.
async fn measure<F, Fut>(
    what: &str,
    clients: usize,
    op: F,
    floor: Option<(&Floor, &Bench, usize)>,
) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let before = match floor {
        Some((f, bench, wallets)) => Some(f.measure(bench, wallets, clients).await),
        None => None,
    };
    let cpu = CpuUse::now();
    let max = load::closed(clients, RUN, op.clone()).await;
    let cpu = CpuUse::now().since(&cpu);
    let after = match floor {
        Some((f, bench, wallets)) => Some(f.measure(bench, wallets, clients).await),
        None => None,
    };
    max.print(what, &format!("closed, {clients} clients"));
    let calls = max.calls + max.failed;
    println!("{:<34} CPU per call: {}", "", cpu.per_call(calls));
    if let (Some(before), Some(after)) = (before, after) {
        let bound = (before + after) / 2.0;
        println!(
            "{:<34} approvals reach {:.0} % of the database floor ({bound:.0}/s: {before:.0}/s before the run, {after:.0}/s after)",
            "",
            100.0 * max.rate / bound,
        );
    }
    open_loop(what, "open at 70 %", (max.rate * 0.7).max(1.0), RUN, op).await;
    max.rate
}

/// An open-loop run of `op` at `rate` for `length`, printed with its CPU per call and
/// the connections it opened.
async fn open_loop<F, Fut>(what: &str, mode: &str, rate: f64, length: Duration, op: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let (cpu, tcp) = (CpuUse::now(), Tcp::now());
    let stats = load::open(rate, length, op).await;
    let (cpu, tcp) = (CpuUse::now().since(&cpu), Tcp::now().since(&tcp));
    stats.print(what, mode);
    let calls = stats.calls + stats.failed;
    println!("{:<34} CPU per call: {}", "", cpu.per_call(calls));
    println!("{:<34} TCP: {}", "", tcp.report());
}

/// A burst: 130 % of the closed-loop maximum offered for two seconds. The backlog is
/// 0.6 s of work at that maximum, so the slowest call waits about that long if the server
/// keeps its pace under the backlog, and longer if the backlog slows it down.
async fn burst<F, Fut>(what: &str, max: f64, op: F)
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    open_loop(what, "2 s at 130 %", max * 1.3, Duration::from_secs(2), op).await;
}

/// Pending requests addressed to each of `wallets`, `per_wallet` each, one queue per
/// wallet for the approval runs to take from.
async fn queues(bench: &Bench, wallets: usize, per_wallet: usize) -> Arc<Vec<Mutex<Vec<String>>>> {
    let mut queues = vec![Vec::new(); wallets];
    for (payer, queue) in queues.iter_mut().enumerate() {
        for chunk in (0..per_wallet).collect::<Vec<_>>().chunks(500) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|_| json!({"payer": format!("payer{payer}"), "amount": "1.00", "expires_in": 3600}))
                .collect();
            let res = bench
                .post(
                    "/v1/money-requests/bulk",
                    Some(&bench.shop),
                    json!({"requests": items}),
                )
                .await;
            for item in res["data"].as_array().unwrap() {
                queue.push(item["money_request"]["id"].as_str().unwrap().to_string());
            }
        }
    }
    Arc::new(queues.into_iter().map(Mutex::new).collect())
}

/// Each hot operation: create, approve (1 wallet, 9 wallets), status read, inbox, transfer.
async fn operations(bench: &Arc<Bench>, floor: &Floor) {
    let b = bench.clone();
    let create = move |seq: usize| {
        let b = b.clone();
        async move {
            let body = json!({"payer": format!("payer{}", seq % PAYERS), "amount": "1.00"});
            let (status, _) = b
                .call(
                    reqwest::Method::POST,
                    "/v1/money-requests",
                    Some(&b.shop),
                    body,
                )
                .await;
            status == 201
        }
    };
    // Creates wait for the one commit's flush to disk (on SQLite, in turn): the disk's
    // flush time right before and after the run says how much of their time that is.
    let before = flush_time().await;
    let max = measure("create", 8, create.clone(), None).await;
    let after = flush_time().await;
    println!(
        "{:<34} the disk's flush (fdatasync of 4 KiB, 200 in a row): {before} before these runs, {after} after",
        ""
    );
    burst("create", max, create).await;

    // Enough requests for the closed run (5 s at the maximum) and the open one (5 s at 70 %
    // of it) at the rates reached: one wallet's approvals queue on its row and its PIN
    // gate, nine wallets' on the merchant's.
    for (wallets, clients, per_wallet) in [(1, 8, 3500), (9, 9, 800)] {
        let queues = queues(bench, wallets, per_wallet).await;
        let b = bench.clone();
        let approve = move |seq: usize| {
            let (b, queues) = (b.clone(), queues.clone());
            async move {
                let wallet = seq % queues.len();
                let Some(id) = queues[wallet].lock().unwrap().pop() else {
                    return false;
                };
                let path = format!("/v1/wallet/money-requests/{id}/approve");
                let token = &b.payers[wallet];
                let body = json!({"pin": PIN});
                b.call(reqwest::Method::POST, &path, Some(token), body)
                    .await
                    .0
                    == 200
            }
        };
        let what = format!("approve, {wallets} wallet(s)");
        measure(&what, clients, approve, Some((floor, bench, wallets))).await;
    }

    let ids: Arc<Vec<String>> = Arc::new(
        bench
            .requests(500)
            .await
            .into_iter()
            .map(|(_, id)| id)
            .collect(),
    );
    let b = bench.clone();
    measure(
        "status read",
        8,
        move |seq| {
            let (b, ids) = (b.clone(), ids.clone());
            async move {
                let path = format!("/v1/money-requests/{}", ids[seq % ids.len()]);
                b.call(reqwest::Method::GET, &path, Some(&b.shop), Value::Null)
                    .await
                    .0
                    == 200
            }
        },
        None,
    )
    .await;

    let b = bench.clone();
    measure(
        "wallet inbox (20 per page)",
        8,
        move |seq| {
            let b = b.clone();
            async move {
                let token = &b.payers[seq % PAYERS];
                let path = "/v1/wallet/money-requests?limit=20";
                b.call(reqwest::Method::GET, path, Some(token), Value::Null)
                    .await
                    .0
                    == 200
            }
        },
        None,
    )
    .await;

    let b = bench.clone();
    measure(
        "transfer, 9 wallets",
        9,
        move |seq| {
            let b = b.clone();
            async move {
                let (from, to) = (seq % 9, (seq + 1) % 9);
                let body = json!({"to": format!("payer{to}"), "amount": "1.00", "pin": PIN});
                let (status, _) = b
                    .call(
                        reqwest::Method::POST,
                        "/v1/transfers",
                        Some(&b.payers[from]),
                        body,
                    )
                    .await;
                status == 201
            }
        },
        None,
    )
    .await;
}

/// Approves `requests` at `rate` per second (or as fast as `PAYERS` concurrent payers can
/// when `rate` is `None`) through `base`; returns when each approval was answered.
async fn approve_all(
    bench: &Arc<Bench>,
    base: &str,
    requests: Vec<(usize, String)>,
    rate: Option<f64>,
) -> (Vec<(String, Instant)>, Vec<f64>) {
    let answered = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    match rate {
        Some(rate) => {
            for (k, (payer, id)) in requests.into_iter().enumerate() {
                let due = started + Duration::from_secs_f64(k as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                tasks.push(tokio::spawn(approve_one(
                    bench.clone(),
                    base.to_string(),
                    payer,
                    (id, due),
                    answered.clone(),
                )));
            }
        }
        None => {
            let mut by_payer: Vec<Vec<String>> = vec![Vec::new(); PAYERS];
            for (payer, id) in requests {
                by_payer[payer].push(id);
            }
            for (payer, ids) in by_payer.into_iter().enumerate() {
                let (bench, base, answered) = (bench.clone(), base.to_string(), answered.clone());
                tasks.push(tokio::spawn(async move {
                    for id in ids {
                        let sent = (id, Instant::now());
                        approve_one(bench.clone(), base.clone(), payer, sent, answered.clone())
                            .await;
                    }
                }));
            }
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let answered = Arc::try_unwrap(answered).unwrap().into_inner().unwrap();
    let (ids, took) = answered
        .into_iter()
        .map(|(id, at, ms)| ((id, at), ms))
        .unzip();
    (ids, took)
}

/// Approves one request; records when it was answered and how long it took in ms from
/// `due` (its scheduled send time, or when it was sent).
async fn approve_one(
    bench: Arc<Bench>,
    base: String,
    payer: usize,
    (id, due): (String, Instant),
    answered: Arc<Mutex<Vec<(String, Instant, f64)>>>,
) {
    let res = bench
        .client
        .post(format!("{base}/v1/wallet/money-requests/{id}/approve"))
        .bearer_auth(&bench.payers[payer])
        .json(&json!({"pin": PIN}))
        .send()
        .await
        .expect("approve");
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let at = Instant::now();
    let took = at.saturating_duration_since(due).as_secs_f64() * 1000.0;
    answered.lock().unwrap().push((id, at, took));
}

/// Waits (60 s at most) for every callback, then the latency percentiles in ms.
async fn latencies(arrivals: &Arrivals, answered: &[(String, Instant)]) -> (f64, f64, f64, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = {
            let a = arrivals.lock().unwrap();
            answered.iter().filter(|(id, _)| a.contains_key(id)).count()
        };
        if got == answered.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a = arrivals.lock().unwrap();
    let mut ms: Vec<f64> = answered
        .iter()
        .filter_map(|(id, at)| {
            a.get(id)
                .map(|cb| cb.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    let missing = answered.len() - ms.len();
    ms.sort_by(|x, y| x.partial_cmp(y).unwrap());
    let pct = |p: f64| {
        ms.get(((ms.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(f64::NAN)
    };
    (
        pct(0.5),
        pct(0.99),
        ms.last().copied().unwrap_or(f64::NAN),
        missing,
    )
}

fn report(phase: &str, rate: &str, (p50, p99, max, missing): (f64, f64, f64, usize)) {
    println!("{phase:<34} {rate:>12}  p50 {p50:>8.1} ms  p99 {p99:>8.1} ms  max {max:>8.1} ms  missing {missing}");
}

/// The shared settings, with callbacks to the loopback receiver allowed.
fn bench_config(db_url: &str) -> pinpay::config::Config {
    let mut c = config(db_url);
    c.callback_allow_private = true;
    c
}

/// Builds and starts a server instance on the server's own runtime (as in the `pinpay`
/// binary), apart from the harness's threads; its port and hasher.
async fn serve(server: &Handle, config: Config, clock: Clock) -> (u16, Hasher) {
    server
        .spawn(async move {
            let app = Application::build(config, clock)
                .await
                .expect("server builds");
            let started = (app.port(), app.hasher());
            tokio::spawn(app.run_until_stopped());
            started
        })
        .await
        .expect("server starts")
}

async fn run(db_url: String, events: usize, server: Handle) {
    let clock = Clock::system();
    let (port, _) = serve(&server, bench_config(&db_url), clock.clone()).await;
    let base = format!("http://127.0.0.1:{port}");
    let client = common::client();
    let mut bench = Bench {
        client,
        base: base.clone(),
        shop: String::new(),
        payers: Vec::new(),
    };

    bench.post("/v1/accounts", None, json!({"kind": "corporate", "username": "shop", "password": PASSWORD,
        "email": "shop@shop.example", "company_name": "Shop GmbH", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"})).await;
    common::onboard(&bench.client, &base, "shop", PASSWORD).await;
    bench.shop = bench
        .post(
            "/v1/auth/tokens",
            None,
            json!({"username": "shop", "password": PASSWORD}),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..PAYERS {
        let name = format!("payer{i}");
        bench
            .post(
                "/v1/accounts",
                None,
                json!({"kind": "private", "username": name, "password": PASSWORD,
            "email": format!("{name}@example.com")}),
            )
            .await;
        let token = bench
            .post(
                "/v1/sessions",
                None,
                json!({"username": name, "password": PASSWORD}),
            )
            .await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, _) = bench
            .call(
                reqwest::Method::PUT,
                "/v1/me/pin",
                Some(&token),
                json!({"pin": PIN, "password": PASSWORD}),
            )
            .await;
        assert_eq!(s, 204);
        bench.post("/v1/admin/deposits", Some(ADMIN), json!({"username": name, "amount": "20000.00", "bank_reference": format!("bench-{i}")})).await;
        bench.payers.push(token);
    }
    let arrivals: Arrivals = Arc::new(Mutex::new(HashMap::new()));
    let port = start_receiver(arrivals.clone(), 0).await;
    let (s, _) = bench
        .call(
            reqwest::Method::PUT,
            "/v1/callback-url",
            Some(&bench.shop.clone()),
            json!({"url": format!("http://127.0.0.1:{port}/callbacks")}),
        )
        .await;
    assert_eq!(s, 200);
    let bench = Arc::new(bench);

    let reqs = bench.requests(300).await;
    let (answered, _) = approve_all(&bench, &base, reqs, Some(30.0)).await;
    report(
        "approvals at 30/s",
        "30/s",
        latencies(&arrivals, &answered).await,
    );

    let reqs = bench.requests(320).await;
    let started = Instant::now();
    let (answered, _) = approve_all(&bench, &base, reqs, None).await;
    let max_rate = answered.len() as f64 / started.elapsed().as_secs_f64();
    report(
        "approval maximum",
        &format!("{max_rate:.0}/s"),
        latencies(&arrivals, &answered).await,
    );

    let bound = Floor::new(&db_url, clock.clone()).await;
    let floor = bound.measure(&bench, PAYERS, PAYERS).await;
    println!(
        "{:<34} {:>12}  approvals reach {:.0} % of it",
        "database floor (16 wallets)",
        format!("{floor:.0}/s"),
        100.0 * max_rate / floor
    );

    let rate = (max_rate * 0.8).max(1.0);
    let reqs = bench.requests((rate * 10.0) as usize).await;
    let (answered, took) = approve_all(&bench, &base, reqs, Some(rate)).await;
    let took = load::Stats::of(took, 0, 1.0);
    println!(
        "{:<34} {:>12}  p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms  (the approval's answer, from its scheduled send)",
        "approvals at 80 % of the maximum",
        format!("{rate:.0}/s"),
        took.p50,
        took.p99,
        took.max
    );
    report(
        "  their callbacks",
        &format!("{rate:.0}/s"),
        latencies(&arrivals, &answered).await,
    );

    operations(&bench, &bound).await;

    // One instance's peak so far; the second instance below has its own hasher and pools.
    print_peak_rss("peak RSS of the process, one instance");

    // Before the burst: it moves the clock an hour on, past the payers' app tokens.
    if db_url.starts_with("postgres") {
        let (second, _) = serve(&server, bench_config(&db_url), clock.clone()).await;
        let other = format!("http://127.0.0.1:{second}");
        let reqs = bench.requests(300).await;
        let (answered, _) = approve_all(&bench, &other, reqs, Some(30.0)).await;
        report(
            "approvals at 30/s via instance B",
            "30/s",
            latencies(&arrivals, &answered).await,
        );
    }

    // Throughput: the receiver answers 503 with `Retry-After: 3600` while `events`
    // cancellations fail their first attempt; then it is healthy again and the clock
    // moves past the hour, so all fall due at once.
    let down: Arrivals = Arc::new(Mutex::new(HashMap::new()));
    let burst_port = start_receiver(down.clone(), 0).await;
    BUSY.store(true, Ordering::SeqCst);
    let (s, _) = bench
        .call(
            reqwest::Method::PUT,
            "/v1/callback-url",
            Some(&bench.shop),
            json!({"url": format!("http://127.0.0.1:{burst_port}/callbacks")}),
        )
        .await;
    assert_eq!(s, 200);
    let reqs = bench.requests(events).await;
    let ids: Vec<String> = reqs.into_iter().map(|(_, id)| id).collect();
    let cancel_started = Instant::now();
    futures::stream::iter(ids.clone())
        .for_each_concurrent(16, |id| {
            let bench = bench.clone();
            async move {
                bench
                    .post(
                        &format!("/v1/money-requests/{id}/cancel"),
                        Some(&bench.shop),
                        json!({}),
                    )
                    .await;
            }
        })
        .await;
    // Wait until every first attempt has failed (none is pending a first try any more).
    let first_tries = Instant::now() + Duration::from_secs(600);
    loop {
        let (_, log) = bench
            .call(
                reqwest::Method::GET,
                "/v1/callbacks?limit=100",
                Some(&bench.shop),
                Value::Null,
            )
            .await;
        let untried = log["data"].as_array().map_or(0, |d| {
            d.iter()
                .filter(|e| e["attempts"].as_array().is_some_and(|a| a.is_empty()))
                .count()
        });
        if untried == 0 || Instant::now() > first_tries {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first_round = cancel_started.elapsed();
    BUSY.store(false, Ordering::SeqCst);
    clock.advance(chrono::Duration::seconds(3601));
    let due = Instant::now();
    let deadline = due + Duration::from_secs(300);
    while down.lock().unwrap().len() < ids.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = down.lock().unwrap().len();
    let first = down.lock().unwrap().values().min().copied().unwrap_or(due);
    let last = down.lock().unwrap().values().max().copied().unwrap_or(due);
    // The worker notices a clock move at its next poll (up to `PINPAY_DELIVERY_INTERVAL_MS`
    // later): the rate counts from the first arrival, the wait before it is shown apart.
    let noticed = first.saturating_duration_since(due).as_secs_f64();
    let secs = last
        .saturating_duration_since(first)
        .as_secs_f64()
        .max(0.001);
    println!(
        "{:<34} {:>12}  {got} of {} events delivered in {secs:.2} s from the first arrival, {noticed:.2} s after falling due ({} first attempts took {:.1} s)",
        "burst of due events",
        format!("{:.0}/s", got as f64 / secs),
        ids.len(),
        ids.len(),
        first_round.as_secs_f64()
    );
    let (s, _) = bench
        .call(
            reqwest::Method::PUT,
            "/v1/callback-url",
            Some(&bench.shop),
            json!({"url": format!("http://127.0.0.1:{port}/callbacks")}),
        )
        .await;
    assert_eq!(s, 200);
}

use futures::StreamExt;

/// The process's peak resident size so far (server, generator and receiver share it; the
/// generator's part is small: its open loop holds at most `load::OPEN_CONNECTIONS` connections).
fn print_peak_rss(what: &str) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(peak) = status.lines().find(|l| l.starts_with("VmHWM")) {
        println!("{what}: {}", peak.trim_start_matches("VmHWM:").trim());
    }
}

fn main() {
    // The allocator as the `pinpay` binary sets it up.
    pinpay::startup::bound_malloc_arenas();
    let events: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    // The server's runtime, and the harness's (load generator, receiver) apart from it.
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(format!("{HARNESS}load"))
        .build()
        .unwrap();
    let (url, cleanup) = common::fresh_database("pinpay_bench");
    rt.block_on(run(url, events, server.handle().clone()));
    print_peak_rss("peak RSS of the process, at the end");
    cleanup();
    std::process::exit(0);
}
