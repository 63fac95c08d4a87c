//! End-to-end benchmark: RabbitMQ → `misp-connector run` worker processes → fake MISP → result messages.
//!
//! Why it exists: the BRIEF (§9) sets throughput, latency and memory targets for the whole worker, which no unit
//! benchmark can show. This harness runs the real release binaries as separate processes, exactly as an operator
//! would, and measures from the outside:
//!
//! 1. starts `fake-misp` (its own process, `--latency-ms` per request) on 127.0.0.1;
//! 2. starts `--workers` × `misp-connector run`, configured through environment variables only, against a fresh
//!    uniquely named queue (the workers declare the topology, including a results queue);
//! 3. publishes `--stories` distinct bundles generated from a template (a fresh story id per bundle), persistent,
//!    with publisher confirms, from this process (lapin), stamping each message with its publish time;
//! 4. consumes the result messages (one per story) and computes stories/s and publish → result latency;
//! 5. samples `/proc/<pid>/stat` (CPU) and `/proc/<pid>/status` (VmHWM, peak RSS) of every worker, scrapes each
//!    worker's `/metrics` for per-stage timings, stops everything (SIGTERM workers, stop the fake) and deletes
//!    its queues; prints a table, a markdown row and optionally JSON.
//!
//! Run it through `bench/e2e` (builds the release binaries first); see `docs/benchmarks.md (section "End-to-end")`.
//! Every wait is bounded in time, every loop in count; only 127.0.0.1 is contacted (plus the AMQP URL given).

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

/// Command-line options (`bench/e2e --help`).
#[derive(Debug, Parser, Clone)]
#[command(
    name = "e2e",
    about = "End-to-end benchmark of misp-connector against a fake MISP"
)]
struct Args {
    /// Story bundles to publish (each with a distinct story id).
    #[arg(long, default_value_t = 20_000)]
    stories: usize,
    /// `misp-connector run` processes consuming the queue.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Latency the fake MISP adds to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Stories in flight per worker (CONNECTOR_CONCURRENCY).
    #[arg(long, default_value_t = 64)]
    in_flight: usize,
    /// AMQP prefetch per worker (AMQP_PREFETCH); default: max(in-flight, 64).
    #[arg(long)]
    prefetch: Option<u16>,
    /// Publish rate in stories/s (0 = as fast as the broker confirms, which saturates the workers).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Published messages awaiting their broker confirm at most.
    #[arg(long, default_value_t = 1024)]
    publish_window: usize,
    /// Bundle template: a native or plain STIX bundle; its first report/grouping id is replaced per story.
    #[arg(long, default_value = "examples/native-story.json")]
    template: PathBuf,
    /// RabbitMQ URL (the workers get the same).
    #[arg(
        long,
        env = "BENCH_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Queue type the workers declare (AMQP_QUEUE_TYPE): quorum (the product default) or classic.
    #[arg(long, default_value = "quorum")]
    queue_type: String,
    /// Directory with the release binaries `misp-connector` and `fake-misp`.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Where worker/fake logs, metrics dumps and results go (a per-run subdirectory is created).
    #[arg(long, default_value = "target/bench-e2e")]
    out_dir: PathBuf,
    /// Give up when the results are not complete after this many seconds (from the first publish).
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// Extra environment for the workers, `KEY=VALUE` (repeatable), e.g. `CONNECTOR_LOG_LEVEL=info`.
    #[arg(long = "worker-env")]
    worker_env: Vec<String>,
    /// Write the result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Append the result as a markdown table row to this file (header written when the file is new).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Profile the workers with `perf record` (flat, 999 Hz) during the run; `perf report` goes to
    /// `<out-dir>/<run>/perf.txt` and its top lines are printed.
    #[arg(long)]
    perf: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// Names of the queues of one run (all deleted at the end).
struct Queues {
    main: String,
    results: String,
}

impl Queues {
    fn all(&self) -> [String; 4] {
        [
            self.main.clone(),
            format!("{}.dlq", self.main),
            format!("{}.retry", self.main),
            self.results.clone(),
        ]
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    validate(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let outcome = runtime.block_on(run(args))?;
    if !outcome {
        std::process::exit(1);
    }
    Ok(())
}

fn validate(a: &Args) -> Result<()> {
    if a.stories == 0 || a.stories > 10_000_000 {
        bail!("--stories must be between 1 and 10,000,000");
    }
    if a.workers == 0 || a.workers > 64 {
        bail!("--workers must be between 1 and 64");
    }
    if a.in_flight == 0 || a.in_flight > 4096 {
        bail!("--in-flight must be between 1 and 4096");
    }
    if a.publish_window == 0 || a.publish_window > 65_535 {
        bail!("--publish-window must be between 1 and 65535");
    }
    if !(a.rate >= 0.0 && a.rate.is_finite()) {
        bail!("--rate must be a finite number ≥ 0");
    }
    if a.latency_ms > 60_000 {
        bail!("--latency-ms must be at most 60000");
    }
    if a.timeout_secs == 0 || a.timeout_secs > 86_400 {
        bail!("--timeout-secs must be between 1 and 86400");
    }
    if a.queue_type != "quorum" && a.queue_type != "classic" {
        bail!("--queue-type must be quorum or classic");
    }
    for kv in &a.worker_env {
        if !kv.contains('=') {
            bail!("--worker-env {kv:?} is not KEY=VALUE");
        }
    }
    Ok(())
}

/// Runs one scenario; `Ok(false)` when it did not complete (timeout, lost stories).
async fn run(args: Args) -> Result<bool> {
    let template = Template::load(&args.template)?;
    let misp_bin = args.bin_dir.join("misp-connector");
    let fake_bin = args.bin_dir.join("fake-misp");
    for b in [&misp_bin, &fake_bin] {
        if !b.is_file() {
            bail!(
                "{} is missing: build with `cargo build --release --bins` (bench/e2e does)",
                b.display()
            );
        }
    }
    let run_id = format!(
        "{}-{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let dir = args.out_dir.join(&run_id);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let queues = Queues {
        main: format!("bench.e2e.{run_id}"),
        results: format!("bench.e2e.{run_id}.results"),
    };
    eprintln!(
        "e2e: run {run_id}: {} stories, {} worker(s), {} ms MISP latency, {} in flight; logs in {}",
        args.stories,
        args.workers,
        args.latency_ms,
        args.in_flight,
        dir.display()
    );

    let conn = tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(&args.amqp_url, ConnectionProperties::default()),
    )
    .await
    .map_err(|_| anyhow!("RabbitMQ did not answer within 10 s"))?
    .context("connecting to RabbitMQ")?;

    let mut procs = Procs::default();
    let result = scenario(&args, &template, &queues, &dir, &conn, &mut procs).await;
    // Cleanup happens whatever the scenario did.
    procs.stop().await;
    delete_queues(&conn, &queues).await;
    let _ = conn.close(200, "bench done".into()).await;
    let report = result?;

    let json = report.to_json(&args);
    print!("{}", report.table(&args));
    let row = report.markdown_row(&args);
    println!("\nmarkdown: {row}");
    let json_text = serde_json::to_string_pretty(&json).context("serialising the result")?;
    std::fs::write(dir.join("result.json"), &json_text).context("writing result.json")?;
    if let Some(path) = &args.json {
        std::fs::write(path, &json_text).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.markdown {
        append_markdown(path, &row)?;
    }
    Ok(report.complete())
}

/// Processes started by the harness; all are stopped by [`Procs::stop`] (and killed on drop as a last resort).
#[derive(Default)]
struct Procs {
    fake: Option<Child>,
    workers: Vec<Child>,
}

impl Procs {
    async fn stop(&mut self) {
        for w in &mut self.workers {
            terminate(w, Duration::from_secs(40)).await;
        }
        if let Some(f) = &mut self.fake {
            terminate(f, Duration::from_secs(5)).await;
        }
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL.
async fn terminate(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(_) => {}
        Err(_) => {
            eprintln!("e2e: process did not stop within {grace:?} after SIGTERM; killing it");
            let _ = child.kill().await;
        }
    }
}

async fn delete_queues(conn: &Connection, q: &Queues) {
    let Ok(ch) = conn.create_channel().await else {
        eprintln!(
            "e2e: could not open a channel to delete the queues {:?}",
            q.all()
        );
        return;
    };
    for name in q.all() {
        // A missing queue closes the channel: reopen for the next one.
        let ch = if ch.status().connected() {
            ch.clone()
        } else {
            match conn.create_channel().await {
                Ok(c) => c,
                Err(_) => continue,
            }
        };
        let _ = ch
            .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
}

/// Everything measured in one run.
struct Report {
    stories: usize,
    results_distinct: usize,
    duplicates: usize,
    unknown: usize,
    actions: BTreeMap<String, usize>,
    /// First publish → last result.
    elapsed: Duration,
    /// First publish → last confirm.
    publish_elapsed: Duration,
    latencies_ns: Vec<u64>,
    workers: Vec<ProcSample>,
    fake: Option<ProcSample>,
    broker_cpu_s: Option<f64>,
    bench_cpu_s: Option<f64>,
    stages: BTreeMap<String, (f64, f64)>,
    timed_out: bool,
    /// 1-minute load average before and after the run (other processes share the cores).
    load: (f64, f64),
}

/// CPU and memory of one process over the measured window.
#[derive(Debug, Clone, Default)]
struct ProcSample {
    pid: u32,
    cpu_s: f64,
    vm_hwm_kb: u64,
}

impl Report {
    fn complete(&self) -> bool {
        !self.timed_out && self.results_distinct == self.stories
    }

    fn throughput(&self) -> f64 {
        self.results_distinct as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_ns.is_empty() {
            return f64::NAN;
        }
        let idx = ((self.latencies_ns.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_ns[idx.min(self.latencies_ns.len() - 1)] as f64 / 1e6
    }

    fn worker_cpu_s(&self) -> f64 {
        self.workers.iter().map(|w| w.cpu_s).sum()
    }

    fn cpu_ms_per_story(&self) -> f64 {
        self.worker_cpu_s() * 1e3 / self.results_distinct.max(1) as f64
    }

    fn peak_rss_mb(&self) -> f64 {
        self.workers.iter().map(|w| w.vm_hwm_kb).max().unwrap_or(0) as f64 / 1024.0
    }

    fn targets(&self, a: &Args) -> Vec<(String, bool)> {
        let mut t = Vec::new();
        // Throughput targets only mean something when publishing saturates the workers.
        let saturating = a.rate == 0.0;
        if saturating && a.latency_ms == 0 && a.workers == 1 {
            t.push((
                "≥ 5,000 stories/s, one worker, zero-latency MISP".to_owned(),
                self.throughput() >= 5000.0,
            ));
        }
        if saturating && a.latency_ms == 150 && a.in_flight == 64 {
            t.push((
                "≥ 300 stories/s at 64 in flight, 150 ms MISP".to_owned(),
                self.throughput() >= 300.0,
            ));
        }
        if a.in_flight == 64 {
            t.push((
                "peak RSS ≤ 50 MB at 64 in flight".to_owned(),
                self.peak_rss_mb() <= 50.0,
            ));
        }
        t
    }

    fn table(&self, a: &Args) -> String {
        let mut s = String::new();
        let rate = if a.rate > 0.0 {
            format!("{} stories/s", a.rate)
        } else {
            "max".to_owned()
        };
        s.push_str(&format!(
            "\nscenario      stories={} workers={} latency_ms={} in_flight={} prefetch={} queue_type={} publish_rate={} template={}\n",
            a.stories,
            a.workers,
            a.latency_ms,
            a.in_flight,
            prefetch(a),
            a.queue_type,
            rate,
            a.template.display()
        ));
        s.push_str(&format!(
            "complete      {} ({} of {} stories got a result{}{})\n",
            if self.complete() { "yes" } else { "NO" },
            self.results_distinct,
            self.stories,
            if self.duplicates > 0 {
                format!(", {} duplicate results", self.duplicates)
            } else {
                String::new()
            },
            if self.timed_out { ", TIMED OUT" } else { "" }
        ));
        s.push_str(&format!(
            "throughput    {:.0} stories/s ({} results in {:.2} s; publishing took {:.2} s = {:.0} msg/s)\n",
            self.throughput(),
            self.results_distinct,
            self.elapsed.as_secs_f64(),
            self.publish_elapsed.as_secs_f64(),
            self.stories as f64 / self.publish_elapsed.as_secs_f64().max(1e-9)
        ));
        s.push_str(&format!(
            "latency       p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (publish → result)\n",
            self.percentile_ms(0.50),
            self.percentile_ms(0.90),
            self.percentile_ms(0.99),
            self.percentile_ms(1.0)
        ));
        s.push_str(&format!(
            "worker CPU    {:.3} ms/story ({:.2} s user+sys over {} worker(s))\n",
            self.cpu_ms_per_story(),
            self.worker_cpu_s(),
            self.workers.len()
        ));
        let rss: Vec<String> = self
            .workers
            .iter()
            .map(|w| format!("{:.1}", w.vm_hwm_kb as f64 / 1024.0))
            .collect();
        s.push_str(&format!(
            "peak RSS      {:.1} MB max (VmHWM per worker: {} MB)\n",
            self.peak_rss_mb(),
            rss.join(", ")
        ));
        let opt = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.2} s"));
        s.push_str(&format!(
            "other CPU     fake-misp {}, RabbitMQ {}, this harness {} (machine: {} cores, load {:.2} before, {:.2} after)\n",
            opt(self.fake.as_ref().map(|f| f.cpu_s)),
            opt(self.broker_cpu_s),
            opt(self.bench_cpu_s),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.load.0,
            self.load.1
        ));
        let actions: Vec<String> = self
            .actions
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        s.push_str(&format!(
            "results       {}{}\n",
            actions.join(", "),
            if self.unknown > 0 {
                format!(", {} not from this run", self.unknown)
            } else {
                String::new()
            }
        ));
        if !self.stages.is_empty() {
            s.push_str("worker stages (from /metrics, all workers; mean per call)\n");
            for (name, (sum, count)) in &self.stages {
                s.push_str(&format!(
                    "  {name:<40} {count:>9.0} calls, mean {:.3} ms, total {sum:.2} s\n",
                    if *count > 0.0 { sum / count * 1e3 } else { 0.0 }
                ));
            }
        }
        for (name, ok) in self.targets(a) {
            s.push_str(&format!(
                "target        {name}: {}\n",
                if ok { "met" } else { "MISSED" }
            ));
        }
        s
    }

    fn markdown_row(&self, a: &Args) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.3} | {:.1} | {} |",
            a.stories,
            a.workers,
            a.latency_ms,
            a.in_flight,
            a.queue_type,
            self.throughput(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            self.cpu_ms_per_story(),
            self.peak_rss_mb(),
            if self.complete() { "yes" } else { "NO" }
        )
    }

    fn to_json(&self, a: &Args) -> serde_json::Value {
        let num = |v: f64| {
            if v.is_finite() {
                serde_json::json!(v)
            } else {
                serde_json::Value::Null
            }
        };
        serde_json::json!({
            "scenario": {
                "stories": a.stories, "workers": a.workers, "latency_ms": a.latency_ms,
                "in_flight": a.in_flight, "prefetch": prefetch(a), "queue_type": a.queue_type,
                "publish_rate": a.rate, "template": a.template.display().to_string(),
            },
            "complete": self.complete(),
            "timed_out": self.timed_out,
            "results": self.results_distinct,
            "duplicate_results": self.duplicates,
            "actions": self.actions,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "publish_elapsed_s": self.publish_elapsed.as_secs_f64(),
            "stories_per_s": num(self.throughput()),
            "latency_ms": {
                "p50": num(self.percentile_ms(0.5)), "p90": num(self.percentile_ms(0.9)),
                "p99": num(self.percentile_ms(0.99)), "max": num(self.percentile_ms(1.0)),
            },
            "worker_cpu_s": self.worker_cpu_s(),
            "worker_cpu_ms_per_story": num(self.cpu_ms_per_story()),
            "peak_rss_mb": self.peak_rss_mb(),
            "workers": self.workers.iter().map(|w| serde_json::json!({
                "pid": w.pid, "cpu_s": w.cpu_s, "vm_hwm_kb": w.vm_hwm_kb})).collect::<Vec<_>>(),
            "fake_misp_cpu_s": self.fake.as_ref().map(|f| f.cpu_s),
            "broker_cpu_s": self.broker_cpu_s,
            "harness_cpu_s": self.bench_cpu_s,
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "load_avg_1m": {"before": self.load.0, "after": self.load.1},
            "stages": self.stages.iter().map(|(k, (sum, count))| (k.clone(), serde_json::json!({
                "sum_s": sum, "count": count}))).collect::<serde_json::Map<_, _>>(),
            "targets": self.targets(a).into_iter().map(|(k, ok)| (k, serde_json::json!(ok)))
                .collect::<serde_json::Map<_, _>>(),
        })
    }
}

fn prefetch(a: &Args) -> u16 {
    a.prefetch
        .unwrap_or_else(|| u16::try_from(a.in_flight.max(64)).unwrap_or(u16::MAX))
}

fn append_markdown(path: &Path, row: &str) -> Result<()> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    if new {
        writeln!(
            f,
            "| stories | workers | MISP latency ms | in flight | queue | stories/s | p50 ms | p99 ms | worker CPU ms/story | peak RSS MB | complete |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    }
    writeln!(f, "{row}")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// The scenario itself.

async fn scenario(
    args: &Args,
    template: &Template,
    queues: &Queues,
    dir: &Path,
    conn: &Connection,
    procs: &mut Procs,
) -> Result<Report> {
    // 1. Fake MISP.
    let admin_key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let fake_log = std::fs::File::create(dir.join("fake-misp.log")).context("fake-misp.log")?;
    let mut fake = Command::new(args.bin_dir.join("fake-misp"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--latency-ms",
            &args.latency_ms.to_string(),
            "--admin-key",
            &admin_key,
        ])
        .env_remove("FAKE_MISP_ADMIN_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(fake_log))
        .kill_on_drop(true)
        .spawn()
        .context("starting fake-misp")?;
    let stdout = fake
        .stdout
        .take()
        .ok_or_else(|| anyhow!("fake-misp has no stdout"))?;
    procs.fake = Some(fake);
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .map_err(|_| anyhow!("fake-misp did not print its address within 20 s"))?
        .context("reading fake-misp's stdout")?
        .ok_or_else(|| anyhow!("fake-misp exited before printing its address"))?;
    let misp_url = line
        .strip_prefix("listening on ")
        .ok_or_else(|| anyhow!("unexpected first line from fake-misp: {line:?}"))?
        .trim()
        .to_owned();
    if !misp_url.starts_with("http://127.0.0.1:") {
        bail!("fake-misp listens on {misp_url}, expected http://127.0.0.1:…");
    }
    // Keep the pipe open (and drained) for the fake's lifetime.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    // 2. Workers.
    let mut metrics_ports = Vec::new();
    for i in 0..args.workers {
        let port = free_port()?;
        metrics_ports.push(port);
        let log = std::fs::File::create(dir.join(format!("worker-{i}.log")))
            .with_context(|| format!("worker-{i}.log"))?;
        let mut cmd = Command::new(args.bin_dir.join("misp-connector"));
        cmd.arg("run");
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if ["MISP_", "AMQP_", "CONNECTOR_", "LIMITS_"]
                .iter()
                .any(|p| k.starts_with(p))
                || k == "CONFIG_FILE"
                || k == "RUST_LOG"
            {
                cmd.env_remove(&k);
            }
        }
        cmd.env("MISP_URL", &misp_url)
            .env("MISP_API_KEY", &admin_key)
            .env("MISP_ORGANISATION_ID", "1")
            .env("AMQP_URL", &args.amqp_url)
            .env("AMQP_QUEUE", &queues.main)
            .env("AMQP_DECLARE", "true")
            .env("AMQP_QUEUE_TYPE", &args.queue_type)
            .env("AMQP_RESULTS_QUEUE", &queues.results)
            .env("AMQP_PREFETCH", prefetch(args).to_string())
            .env("CONNECTOR_CONCURRENCY", args.in_flight.to_string())
            .env("CONNECTOR_LOG_LEVEL", "warn")
            .env("CONNECTOR_METRICS_PORT", port.to_string())
            .env("CONNECTOR_METRICS_BIND", "127.0.0.1");
        for kv in &args.worker_env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("starting misp-connector run")?;
        procs.workers.push(child);
    }

    // 3. Wait until every worker consumes the queue and the results queue exists.
    wait_ready(conn, queues, procs, args.workers, dir).await?;

    // 4. Results consumer.
    let run_prefix = StoryIds::new();
    let published: Arc<Vec<AtomicU64>> =
        Arc::new((0..args.stories).map(|_| AtomicU64::new(0)).collect());
    let results_ch = conn
        .create_channel()
        .await
        .context("opening the results channel")?;
    let mut consumer = results_ch
        .basic_consume(
            queues.results.as_str().into(),
            "bench-e2e-results".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .context("consuming the results queue")?;
    let publish_ch = conn
        .create_channel()
        .await
        .context("opening the publish channel")?;
    publish_ch
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .context("confirm mode")?;

    // 5. Baseline samples; the clock starts right before the first publish.
    let clk = clock_ticks();
    let worker_pids: Vec<u32> = procs.workers.iter().filter_map(Child::id).collect();
    let fake_pid = procs.fake.as_ref().and_then(Child::id);
    let broker_pid = find_broker_pid();
    let self_pid = std::process::id();
    let base_workers: Vec<f64> = worker_pids.iter().map(|p| cpu_s(*p, clk)).collect();
    let base_fake = fake_pid.map(|p| cpu_s(p, clk));
    let base_broker = broker_pid.map(|p| cpu_s(p, clk));
    let base_self = cpu_s(self_pid, clk);
    let load_before = load_avg();
    let mut perf = if args.perf {
        Some(start_perf(&worker_pids, dir)?)
    } else {
        None
    };
    let epoch = Instant::now();

    let received = Arc::new(AtomicUsize::new(0));
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let collector = {
        let published = published.clone();
        let received = received.clone();
        let ids = run_prefix.clone();
        let n = args.stories;
        tokio::spawn(async move {
            let mut seen = vec![false; n];
            let mut c = Collected::default();
            loop {
                let delivery = tokio::select! {
                    d = consumer.next() => d,
                    _ = &mut stop_rx => None,
                };
                let Some(Ok(delivery)) = delivery else { break };
                let now = epoch.elapsed().as_nanos() as u64;
                let parsed: Option<(String, String)> =
                    serde_json::from_slice::<serde_json::Value>(&delivery.data)
                        .ok()
                        .and_then(|v| {
                            Some((
                                v.get("story_id")?.as_str()?.to_owned(),
                                v.get("action")?.as_str()?.to_owned(),
                            ))
                        });
                let Some((story, action)) = parsed else {
                    c.unknown += 1;
                    continue;
                };
                let Some(idx) = ids.index_of(&story).filter(|i| *i < n) else {
                    c.unknown += 1;
                    continue;
                };
                if seen[idx] {
                    c.duplicates += 1;
                    continue;
                }
                seen[idx] = true;
                *c.actions.entry(action).or_default() += 1;
                let sent = published[idx].load(Ordering::Acquire);
                c.latencies.push(now.saturating_sub(sent));
                c.last_ns = now;
                if received.fetch_add(1, Ordering::AcqRel) + 1 == n {
                    break;
                }
            }
            c
        })
    };

    let publisher = {
        let ch = publish_ch;
        let template = template.clone();
        let ids = run_prefix.clone();
        let published = published.clone();
        let queue = queues.main.clone();
        let reply_to = queues.results.clone();
        let (n, rate, window) = (args.stories, args.rate, args.publish_window);
        tokio::spawn(async move {
            let mut pending = FuturesUnordered::new();
            let mut body = Vec::with_capacity(template.len() + 128);
            for i in 0..n {
                if rate > 0.0 {
                    let at = epoch + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(at.into()).await;
                }
                while pending.len() >= window {
                    if let Some(r) = pending.next().await {
                        check_confirm(r)?;
                    }
                }
                let story = ids.story_id(i);
                template.render(&story, &ids.bundle_id(i), &mut body);
                let wall_ns = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos() as i64)
                    .unwrap_or(0);
                let mut headers = FieldTable::default();
                headers.insert("x-published-ns".into(), AMQPValue::LongLongInt(wall_ns));
                let props = BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_delivery_mode(2)
                    .with_message_id(story.as_str().into())
                    .with_reply_to(reply_to.as_str().into())
                    .with_timestamp((wall_ns / 1_000_000_000) as u64)
                    .with_headers(headers);
                published[i].store(epoch.elapsed().as_nanos() as u64, Ordering::Release);
                let confirm = ch
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions {
                            mandatory: true,
                            ..BasicPublishOptions::default()
                        },
                        &body,
                        props,
                    )
                    .await
                    .with_context(|| format!("publishing story {i}"))?;
                pending.push(confirm);
            }
            while let Some(r) = pending.next().await {
                check_confirm(r)?;
            }
            let _ = ch.close(200, "published".into()).await;
            Ok::<Duration, anyhow::Error>(epoch.elapsed())
        })
    };

    // 6. Wait for all results (bounded), watching the workers.
    let deadline = epoch + Duration::from_secs(args.timeout_secs);
    let mut publisher = Some(publisher);
    let mut publish_elapsed = None;
    let mut collector = collector;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut last_progress = Instant::now();
    let mut timed_out = false;
    let collected = loop {
        tokio::select! {
            c = &mut collector => break c.context("results collector")?,
            _ = tick.tick() => {}
        }
        if let Some(p) = publisher.as_mut()
            && p.is_finished()
        {
            let took = p.await.context("publisher task")??;
            publish_elapsed = Some(took);
            publisher = None;
        }
        for (i, w) in procs.workers.iter_mut().enumerate() {
            if let Ok(Some(status)) = w.try_wait() {
                bail!(
                    "worker {i} exited during the run ({status}); last log lines:\n{}",
                    tail(&dir.join(format!("worker-{i}.log")))
                );
            }
        }
        if last_progress.elapsed() >= Duration::from_secs(5) {
            last_progress = Instant::now();
            eprintln!(
                "e2e: {:>6.1} s: {} results of {}",
                epoch.elapsed().as_secs_f64(),
                received.load(Ordering::Acquire),
                args.stories
            );
        }
        if Instant::now() >= deadline {
            timed_out = true;
            eprintln!(
                "e2e: timed out after {} s; reporting what arrived",
                args.timeout_secs
            );
            let _ = stop_tx.send(());
            break tokio::time::timeout(Duration::from_secs(10), collector)
                .await
                .map_err(|_| anyhow!("the results collector did not stop"))?
                .context("results collector")?;
        }
    };
    if let Some(p) = publisher.take() {
        match tokio::time::timeout(Duration::from_secs(30), p).await {
            Ok(r) => publish_elapsed = Some(r.context("publisher task")??),
            Err(_) => eprintln!("e2e: publisher still waiting for confirms; giving up on it"),
        }
    }

    // 7. Final samples while the processes still run.
    let workers: Vec<ProcSample> = worker_pids
        .iter()
        .zip(&base_workers)
        .map(|(pid, base)| ProcSample {
            pid: *pid,
            cpu_s: cpu_s(*pid, clk) - base,
            vm_hwm_kb: vm_hwm_kb(*pid),
        })
        .collect();
    let fake = fake_pid.zip(base_fake).map(|(pid, base)| ProcSample {
        pid,
        cpu_s: cpu_s(pid, clk) - base,
        vm_hwm_kb: vm_hwm_kb(pid),
    });
    let broker_cpu_s = broker_pid
        .zip(base_broker)
        .map(|(pid, base)| cpu_s(pid, clk) - base);
    let bench_cpu_s = Some(cpu_s(self_pid, clk) - base_self);
    let stages = scrape_metrics(&metrics_ports, dir).await;
    let load_after = load_avg();
    if let Some(p) = perf.take() {
        stop_perf(p, dir).await;
    }

    let mut latencies = collected.latencies;
    latencies.sort_unstable();
    let results_distinct = latencies.len();
    Ok(Report {
        stories: args.stories,
        results_distinct,
        duplicates: collected.duplicates,
        unknown: collected.unknown,
        actions: collected.actions,
        elapsed: Duration::from_nanos(collected.last_ns),
        publish_elapsed: publish_elapsed.unwrap_or_else(|| epoch.elapsed()),
        latencies_ns: latencies,
        workers,
        fake,
        broker_cpu_s,
        bench_cpu_s,
        stages,
        timed_out,
        load: (load_before, load_after),
    })
}

/// What the results consumer saw.
#[derive(Default)]
struct Collected {
    latencies: Vec<u64>,
    actions: BTreeMap<String, usize>,
    duplicates: usize,
    unknown: usize,
    last_ns: u64,
}

fn check_confirm(r: lapin::Result<Confirmation>) -> Result<()> {
    match r.context("waiting for a publisher confirm")? {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) => bail!("a story was returned unroutable: the queue is gone"),
        Confirmation::Nack(_) => bail!("the broker refused (nack) a story"),
        Confirmation::NotRequested => bail!("publisher confirms are off"),
    }
}

/// Poll (bounded: 60 s) until `workers` consumers are on the main queue and the results queue exists.
async fn wait_ready(
    conn: &Connection,
    q: &Queues,
    procs: &mut Procs,
    workers: usize,
    dir: &Path,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let mut last = String::from("no answer yet");
    for _ in 0..600 {
        for (i, w) in procs.workers.iter_mut().enumerate() {
            if let Ok(Some(status)) = w.try_wait() {
                bail!(
                    "worker {i} exited at start ({status}); last log lines:\n{}",
                    tail(&dir.join(format!("worker-{i}.log")))
                );
            }
        }
        // A passive declare of a missing queue closes the channel: use a fresh one per attempt.
        let ch = conn.create_channel().await.context("opening a channel")?;
        match ch
            .queue_declare(q.main.as_str().into(), passive, FieldTable::default())
            .await
        {
            Ok(info) if info.consumer_count() as usize >= workers => {
                match ch
                    .queue_declare(q.results.as_str().into(), passive, FieldTable::default())
                    .await
                {
                    Ok(_) => {
                        let _ = ch.close(200, "ready".into()).await;
                        return Ok(());
                    }
                    Err(e) => last = format!("results queue: {e}"),
                }
            }
            Ok(info) => last = format!("{} consumer(s) on the queue", info.consumer_count()),
            Err(e) => last = format!("main queue: {e}"),
        }
        if ch.status().connected() {
            let _ = ch.close(200, "poll".into()).await;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "workers not ready within 60 s ({last}); worker-0 log:\n{}",
        tail(&dir.join("worker-0.log"))
    )
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr().context("local address")?.port())
}

// ---------------------------------------------------------------------------------------------------------
// Story ids and bundle bodies.

/// Story ids of one run: a random prefix plus the story index in the last 12 hex digits (so a result's
/// `story_id` maps back to its publish time without a lookup table).
#[derive(Clone)]
struct StoryIds {
    prefix: String,
    bundle_prefix: String,
}

impl StoryIds {
    fn new() -> StoryIds {
        let r = uuid::Uuid::new_v4().simple().to_string();
        let b = uuid::Uuid::new_v4().simple().to_string();
        // xxxxxxxx-xxxx-4xxx-8xxx-<index>: a valid version-4 layout.
        StoryIds {
            prefix: format!("{}-{}-4{}-8{}-", &r[..8], &r[8..12], &r[12..15], &r[15..18]),
            bundle_prefix: format!("{}-{}-4{}-9{}-", &b[..8], &b[8..12], &b[12..15], &b[15..18]),
        }
    }

    fn story_id(&self, i: usize) -> String {
        format!("{}{:012x}", self.prefix, i)
    }

    fn bundle_id(&self, i: usize) -> String {
        format!("{}{:012x}", self.bundle_prefix, i)
    }

    fn index_of(&self, story: &str) -> Option<usize> {
        let rest = story.to_ascii_lowercase();
        let rest = rest.strip_prefix(&self.prefix)?;
        if rest.len() != 12 {
            return None;
        }
        usize::from_str_radix(rest, 16).ok()
    }
}

/// A bundle template split around the story uuid and the bundle uuid.
#[derive(Clone)]
struct Template {
    parts: Vec<Part>,
}

#[derive(Clone)]
enum Part {
    Text(String),
    Story,
    Bundle,
}

impl Template {
    fn load(path: &Path) -> Result<Template> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the template {}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let objects = v
            .get("objects")
            .and_then(|o| o.as_array())
            .ok_or_else(|| anyhow!("{} is not a STIX bundle", path.display()))?;
        let story = objects
            .iter()
            .filter_map(|o| o.get("id")?.as_str())
            .find_map(|id| {
                id.strip_prefix("report--")
                    .or_else(|| id.strip_prefix("grouping--"))
            })
            .ok_or_else(|| {
                anyhow!(
                    "{} has no report or grouping (native or plain dialect needed)",
                    path.display()
                )
            })?
            .to_owned();
        let bundle = v
            .get("id")
            .and_then(|i| i.as_str())
            .and_then(|i| i.strip_prefix("bundle--"))
            .map(str::to_owned);
        if uuid::Uuid::parse_str(&story).is_err() {
            bail!("the story id {story:?} in {} is not a UUID", path.display());
        }
        let mut parts = Vec::new();
        for (i, piece) in text.split(story.as_str()).enumerate() {
            if i > 0 {
                parts.push(Part::Story);
            }
            match &bundle {
                Some(b) => {
                    for (j, sub) in piece.split(b.as_str()).enumerate() {
                        if j > 0 {
                            parts.push(Part::Bundle);
                        }
                        parts.push(Part::Text(sub.to_owned()));
                    }
                }
                None => parts.push(Part::Text(piece.to_owned())),
            }
        }
        Ok(Template { parts })
    }

    fn len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                _ => 36,
            })
            .sum()
    }

    fn render(&self, story: &str, bundle: &str, out: &mut Vec<u8>) {
        out.clear();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.extend_from_slice(t.as_bytes()),
                Part::Story => out.extend_from_slice(story.as_bytes()),
                Part::Bundle => out.extend_from_slice(bundle.as_bytes()),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// /proc sampling and /metrics scraping.

/// Clock ticks per second for `/proc/<pid>/stat` (getconf CLK_TCK; 100 on Linux if unknown).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of `pid` in seconds (0 when the process is gone).
fn cpu_s(pid: u32, clk: f64) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name (field 2) may contain spaces: fields are counted after its closing parenthesis.
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ")": field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (get(11) + get(12)) / clk
}

/// Peak resident set size (VmHWM) of `pid` in KiB (0 when unknown).
fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The 1-minute load average (0 when unknown).
fn load_avg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// `perf record` attached to the workers.
fn start_perf(pids: &[u32], dir: &Path) -> Result<Child> {
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let log = std::fs::File::create(dir.join("perf-record.log")).context("perf-record.log")?;
    Command::new("perf")
        .args(["record", "-F", "999", "-o"])
        .arg(dir.join("perf.data"))
        .args(["-p", &list.join(",")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .context("starting perf record (is perf installed and allowed?)")
}

/// Stop `perf record` (SIGINT writes the data), then print the top of a flat `perf report`.
async fn stop_perf(mut perf: Child, dir: &Path) {
    if let Some(pid) = perf.id() {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
    }
    if tokio::time::timeout(Duration::from_secs(30), perf.wait())
        .await
        .is_err()
    {
        let _ = perf.kill().await;
        eprintln!("e2e: perf record did not stop; no profile");
        return;
    }
    let report = std::process::Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--no-children",
            "--percent-limit",
            "0.5",
        ])
        .args(["--sort", "dso,sym", "-i"])
        .arg(dir.join("perf.data"))
        .stderr(Stdio::null())
        .output();
    match report {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let _ = std::fs::write(dir.join("perf.txt"), &text);
            eprintln!(
                "e2e: perf report (top, full text in {}):",
                dir.join("perf.txt").display()
            );
            for line in text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .take(30)
            {
                eprintln!("  {line}");
            }
        }
        Err(e) => eprintln!("e2e: perf report failed: {e}"),
    }
}

/// The RabbitMQ server process (Erlang VM), if visible in /proc.
fn find_broker_pid() -> Option<u32> {
    let dir = std::fs::read_dir("/proc").ok()?;
    for entry in dir.flatten().take(100_000) {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            && comm.trim() == "beam.smp"
        {
            return Some(pid);
        }
    }
    None
}

/// Fetch every worker's `/metrics` (saved beside the logs) and sum the `_sum`/`_count` of its duration
/// histograms per stage: MISP requests by endpoint, conversion.
async fn scrape_metrics(ports: &[u16], dir: &Path) -> BTreeMap<String, (f64, f64)> {
    let mut stages: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
    else {
        return stages;
    };
    for (i, port) in ports.iter().enumerate() {
        let url = format!("http://127.0.0.1:{port}/metrics");
        let text = match client.get(&url).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => {
                eprintln!("e2e: worker {i}: no metrics at {url} ({e})");
                continue;
            }
        };
        let _ = std::fs::write(dir.join(format!("worker-{i}.metrics.txt")), &text);
        for (k, (sum, count)) in histogram_sums(&text) {
            let e = stages.entry(k).or_default();
            e.0 += sum;
            e.1 += count;
        }
    }
    stages
}

/// `name{…endpoint="x"…}_sum/_count` lines of the duration histograms, keyed by stage.
fn histogram_sums(text: &str) -> HashMap<String, (f64, f64)> {
    let mut out: HashMap<String, (f64, f64)> = HashMap::new();
    for line in text.lines().take(100_000) {
        if line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let (base, is_sum) = if let Some(b) = name.strip_suffix("_sum") {
            (b, true)
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, false)
        } else {
            continue;
        };
        let stage = if base.ends_with("misp_request_duration_seconds") {
            let endpoint = labels
                .split(',')
                .find_map(|l| l.strip_prefix("endpoint="))
                .map(|v| v.trim_matches('"'))
                .unwrap_or("?");
            format!("MISP {endpoint}")
        } else if base.ends_with("_duration_seconds") {
            base.trim_start_matches("misp_connector_")
                .trim_end_matches("_duration_seconds")
                .to_owned()
        } else {
            continue;
        };
        let e = out.entry(stage).or_default();
        if is_sum {
            e.0 += value;
        } else {
            e.1 += value;
        }
    }
    out
}
