//! `fake-misp`: the stateful fake MISP as its own process (benchmarks, manual tests, other languages).
//!
//! `fake-misp --bind 127.0.0.1:8080 --latency-ms 150 [--admin-key K] [--org-b-key K2] [--sharing-group 1]`
//! prints `listening on http://ADDR` (one flushed line on stdout) and serves until SIGTERM/SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use misp_connector::fake_misp::{FakeConfig, FakeMisp, ORG_A_ID, ORG_B_ID, SharingGroup};

/// A stateful fake MISP 2.5.1 (see docs/fake-misp.md).
#[derive(Debug, Parser)]
#[command(name = "fake-misp", version)]
struct Args {
    /// Address to listen on (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Fixed latency added to every request, in milliseconds (real MISP: ~150 ms for a small add).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Extra latency per attribute in an /events/add or /events/edit body, in microseconds (real MISP: ~4000).
    #[arg(long, default_value_t = 0)]
    per_attribute_latency_us: u64,
    /// API key of org 1 "ORGNAME" (site admin); 40 alphanumerics.
    #[arg(long, env = "FAKE_MISP_ADMIN_KEY", default_value = misp_connector::fake_misp::DEFAULT_ADMIN_KEY)]
    admin_key: String,
    /// API key of org 2 "ORG-B"; 40 alphanumerics.
    #[arg(long, env = "FAKE_MISP_ORG_B_KEY", default_value = misp_connector::fake_misp::DEFAULT_ORG_B_KEY)]
    org_b_key: String,
    /// Sharing group ids to create (both orgs are members); repeatable. Default: 1.
    #[arg(long = "sharing-group")]
    sharing_groups: Vec<u64>,
    /// Requests kept in the in-memory request log (0 = off, the default for benchmarks).
    #[arg(long, default_value_t = 0)]
    request_log: usize,
    /// The next N requests answer 503 (fault injection at start).
    #[arg(long, default_value_t = 0)]
    fail_next: u32,
    /// The next N requests answer 429 with Retry-After: --retry-after-secs.
    #[arg(long, default_value_t = 0)]
    throttle_next: u32,
    /// Retry-After value for --throttle-next.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u64,
    /// The next N requests get their connection dropped without a response.
    #[arg(long, default_value_t = 0)]
    drop_next: u32,
    /// Reproduce MISP's find-then-insert race on /events/add with this window in milliseconds.
    #[arg(long)]
    add_race_window_ms: Option<u64>,
}

fn valid_key(k: &str) -> bool {
    k.len() == 40 && k.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        valid_key(&args.admin_key),
        "--admin-key must be 40 letters/digits (MISP key format)"
    );
    anyhow::ensure!(
        valid_key(&args.org_b_key),
        "--org-b-key must be 40 letters/digits (MISP key format)"
    );
    anyhow::ensure!(
        args.admin_key != args.org_b_key,
        "--admin-key and --org-b-key must differ"
    );
    let mut config = FakeConfig {
        bind: Some(args.bind),
        admin_key: args.admin_key,
        org_b_key: args.org_b_key,
        latency: Duration::from_millis(args.latency_ms),
        request_log_capacity: args.request_log,
        ..FakeConfig::default()
    };
    if !args.sharing_groups.is_empty() {
        config.sharing_groups = args
            .sharing_groups
            .iter()
            .map(|id| SharingGroup {
                id: *id,
                uuid: format!("5a5a5a5a-0000-4000-8000-{id:012x}"),
                name: format!("SG {id}"),
                org_ids: vec![ORG_A_ID, ORG_B_ID],
            })
            .collect();
    }
    let misp = FakeMisp::start(config)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let faults = misp.faults();
    faults.set_per_attribute_latency(Duration::from_micros(args.per_attribute_latency_us));
    faults.fail_next(args.fail_next, 503, None);
    faults.throttle_next(args.throttle_next, args.retry_after_secs, None);
    faults.drop_next(args.drop_next, None);
    faults.set_add_race_window(args.add_race_window_ms.map(Duration::from_millis));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", misp.url())?;
        out.flush()?;
    }
    misp.run_until(shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
