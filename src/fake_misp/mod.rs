//! A stateful fake MISP 2.5.1 for tests and benchmarks.
//!
//! It exists because there is no MISP in CI, and a happy-path stub would hide exactly the behaviour the
//! sync has to get right. The fake reproduces what a real MISP 2.5.1 answered in
//! `shared/reference/misp/transcripts/` (status codes and body shapes): the 404 + `Location` on a duplicate
//! event uuid, the "not newer than the local copy" timestamp guard, merge-on-edit with soft deletes,
//! instance-wide attribute uuids, proposals for foreign events, ownership refusals, the blocklist after
//! delete, the 500 on 4-byte UTF-8 — plus injectable faults (latency, 5xx, 429, dropped connections,
//! the duplicate-key race). See `docs/fake-misp.md`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use misp_connector::fake_misp::{FakeConfig, FakeMisp};
//! let misp = FakeMisp::start(FakeConfig::default()).await?;
//! let url = misp.url(); // "http://127.0.0.1:PORT"
//! misp.faults().fail_next(1, 503, Some("/events/add"));
//! # let _ = url;
//! misp.shutdown().await;
//! # Ok(()) }
//! ```

mod faults;
mod input;
mod model;
mod render;
mod routes;
mod rules;
mod server;
mod types;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{FaultKind, FaultRule, Faults};
pub use model::SharingGroup;

use model::{Store, User};
use render::ViewOpts;
use server::{ConnHandle, KillableListener};

/// Default API key of org 1 "ORGNAME" (site admin), 40 alphanumerics like a real MISP key.
pub const DEFAULT_ADMIN_KEY: &str = "FakeMispAdminKey000000000000000000000001";
/// Default API key of org 2 "ORG-B" (plain "User" role).
pub const DEFAULT_ORG_B_KEY: &str = "FakeMispOrgBUserKey000000000000000000002";
/// Organisation id of the admin key.
pub const ORG_A_ID: u64 = 1;
/// Organisation id of the org-B key.
pub const ORG_B_ID: u64 = 2;

/// How to start a fake MISP.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Address to bind; `None` = `127.0.0.1:0` (a free port).
    pub bind: Option<SocketAddr>,
    /// Key of org 1 "ORGNAME" (site admin, like the transcripts' `admin`).
    pub admin_key: String,
    /// Key of org 2 "ORG-B" (role "User": may add events and proposals, may not publish).
    pub org_b_key: String,
    /// Sharing groups the instance knows (default: id 1 "SG A+B" with both orgs, as in transcript 84).
    pub sharing_groups: Vec<SharingGroup>,
    /// Fixed latency added to every request (0 = none).
    pub latency: Duration,
    /// How many requests the log keeps (oldest dropped first); 0 disables the log (counts stay on).
    pub request_log_capacity: usize,
    /// How many bytes of each request body the log keeps.
    pub request_log_body_bytes: usize,
}

impl Default for FakeConfig {
    fn default() -> FakeConfig {
        FakeConfig {
            bind: None,
            admin_key: DEFAULT_ADMIN_KEY.to_owned(),
            org_b_key: DEFAULT_ORG_B_KEY.to_owned(),
            sharing_groups: vec![SharingGroup {
                id: 1,
                uuid: "5a5a5a5a-0000-4000-8000-000000000001".to_owned(),
                name: "SG A+B".to_owned(),
                org_ids: vec![ORG_A_ID, ORG_B_ID],
            }],
            latency: Duration::ZERO,
            request_log_capacity: 1_000,
            request_log_body_bytes: 256 * 1024,
        }
    }
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path as sent (no query string).
    pub path: String,
    /// Status answered (for a dropped connection: 500, never seen by the client).
    pub status: u16,
    /// All request headers, names lower-case; the API key is replaced by `<admin key>`, `<org 2 key>` or
    /// `<bad key>` so secrets never sit in test output.
    pub headers: Vec<(String, String)>,
    /// The body (lossy UTF-8, truncated to `request_log_body_bytes`).
    pub body: String,
}

impl RequestRecord {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

#[derive(Debug, Default)]
struct RequestLog {
    capacity: usize,
    body_capacity: usize,
    records: VecDeque<RequestRecord>,
    counts: BTreeMap<String, u64>,
}

/// The shared state of a running fake: the MISP data, the faults and the request log.
pub struct FakeState {
    store: Mutex<Store>,
    users: Vec<User>,
    faults: Faults,
    log: Mutex<RequestLog>,
    base_url: String,
    /// Frozen server clock (unix seconds); 0 = the real clock.
    clock: AtomicI64,
}

impl FakeState {
    fn lock_store(&self) -> MutexGuard<'_, Store> {
        // Rules never leave the store half-written across a panic point that matters to tests; recover.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_log(&self) -> MutexGuard<'_, RequestLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The server's "now" in unix seconds (frozen by [`FakeState::set_clock`], else the real clock).
    pub fn now(&self) -> i64 {
        match self.clock.load(Ordering::Relaxed) {
            0 => chrono::Utc::now().timestamp(),
            frozen => frozen,
        }
    }

    /// Freeze the server clock at `unix_secs` (`None` = real clock again). MISP stamps events and
    /// attributes with its own clock when the client sends no timestamp, so deterministic tests of the
    /// "not newer than the local copy" guard need this.
    pub fn set_clock(&self, unix_secs: Option<i64>) {
        self.clock.store(unix_secs.unwrap_or(0), Ordering::Relaxed);
    }

    fn admin(&self) -> Option<&User> {
        self.users.iter().find(|u| u.site_admin)
    }

    /// Every event as `{"Event": …}` in MISP's view shape, soft-deleted attributes/objects included.
    pub fn events(&self) -> Vec<Value> {
        let store = self.lock_store();
        let Some(admin) = self.admin() else {
            return Vec::new();
        };
        let opts = ViewOpts {
            include_deleted: true,
            metadata: false,
        };
        store
            .events
            .values()
            .map(|e| render::event(&store, e, admin, opts))
            .collect()
    }

    /// One event by uuid (or numeric id) as `{"Event": …}`, soft-deleted items included.
    pub fn event(&self, id_or_uuid: &str) -> Option<Value> {
        let store = self.lock_store();
        let admin = self.admin()?;
        let id = store.find_event(id_or_uuid)?;
        let e = store.events.get(&id)?;
        let opts = ViewOpts {
            include_deleted: true,
            metadata: false,
        };
        Some(render::event(&store, e, admin, opts))
    }

    /// Number of events stored.
    pub fn event_count(&self) -> usize {
        self.lock_store().events.len()
    }

    /// Every proposal (accepted/discarded ones included) in `/shadow_attributes/index` shape.
    pub fn shadow_attributes(&self) -> Vec<Value> {
        let store = self.lock_store();
        store
            .proposals
            .values()
            .map(|p| render::proposal_index_entry(&store, p))
            .collect()
    }

    /// Whether deleting an event put this uuid on the blocklist.
    pub fn is_blocklisted(&self, uuid: &str) -> bool {
        self.lock_store()
            .blocklist
            .contains(&uuid.to_ascii_lowercase())
    }

    /// The logged requests, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock_log().records.iter().cloned().collect()
    }

    /// Forget logged requests and counts.
    pub fn clear_requests(&self) {
        let mut log = self.lock_log();
        log.records.clear();
        log.counts.clear();
    }

    /// How many requests hit an endpoint, keyed `"METHOD /controller/action"` (e.g. `"POST /events/add"`,
    /// `"GET /events/view"`; ids and named parameters are not part of the key).
    pub fn count(&self, endpoint: &str) -> u64 {
        self.lock_log().counts.get(endpoint).copied().unwrap_or(0)
    }

    /// All per-endpoint counts.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.lock_log().counts.clone()
    }

    /// The fault switchboard.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }
}

/// A running fake MISP.
pub struct FakeMisp {
    addr: SocketAddr,
    state: Arc<FakeState>,
    admin_key: String,
    org_b_key: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl FakeMisp {
    /// Bind and start serving in the background (on the current tokio runtime).
    pub async fn start(config: FakeConfig) -> std::io::Result<FakeMisp> {
        let bind = config
            .bind
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let store = Store::new(&config.admin_key, &config.org_b_key, config.sharing_groups);
        let users = store.users.clone();
        let faults = Faults::default();
        faults.set_latency(config.latency);
        let state = Arc::new(FakeState {
            store: Mutex::new(store),
            users,
            faults,
            log: Mutex::new(RequestLog {
                capacity: config.request_log_capacity,
                body_capacity: config.request_log_body_bytes,
                ..RequestLog::default()
            }),
            base_url,
            clock: AtomicI64::new(0),
        });
        let app = Router::new()
            .fallback(routes::handle)
            .layer(DefaultBodyLimit::max(routes::MAX_BODY_BYTES))
            .with_state(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let listener = KillableListener { inner: listener };
        let serve = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<ConnHandle>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move { serve.await });
        Ok(FakeMisp {
            addr,
            state,
            admin_key: config.admin_key,
            org_b_key: config.org_b_key,
            stop: Some(stop),
            task,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// API key of org 1 "ORGNAME" (site admin).
    pub fn admin_key(&self) -> &str {
        &self.admin_key
    }

    /// API key of org 2 "ORG-B".
    pub fn org_b_key(&self) -> &str {
        &self.org_b_key
    }

    /// Inspection helpers (events, proposals, request log, counts).
    pub fn state(&self) -> &FakeState {
        &self.state
    }

    /// Runtime fault injection.
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Stop accepting, let in-flight requests finish (at most 5 s), then stop.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let abort = self.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }

    /// Serve until the task ends (used by the `fake-misp` binary together with a signal).
    pub async fn run_until<F: std::future::Future<Output = ()>>(self, signal: F) {
        signal.await;
        self.shutdown().await;
    }
}

impl Drop for FakeMisp {
    fn drop(&mut self) {
        // A test that forgets `shutdown()` must not leave the server running on its runtime.
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_keys_are_well_formed_misp_keys() {
        for key in [DEFAULT_ADMIN_KEY, DEFAULT_ORG_B_KEY] {
            assert_eq!(key.len(), 40, "{key}");
            assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert_ne!(DEFAULT_ADMIN_KEY, DEFAULT_ORG_B_KEY);
    }
}
