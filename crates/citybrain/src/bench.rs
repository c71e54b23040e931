//! `citybrain bench`: run each shared scenario for an hour in a fresh process (so peak
//! memory is per scenario), repeat, and report medians.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::scenario;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Shared data directory (default `$CITYBRAIN_DATA` or `../shared/data`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Runs per scenario; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Simulated steps per run.
    #[arg(long, default_value_t = 3600)]
    pub steps: u64,
    /// Only scenarios whose name contains this.
    #[arg(long)]
    pub only: Option<String>,
    /// Worker threads passed to each run.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Also generate and run a large synthetic city of this many rows x cols.
    #[arg(long)]
    pub gen_size: Option<u32>,
    /// Instead of the twin, load-test a running brain at this URL (e.g. http://127.0.0.1:8080).
    #[arg(long)]
    pub api: Option<String>,
    /// Seconds per load phase (with --api).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Observations per ingest batch (with --api).
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
    /// Concurrent keep-alive clients (with --api).
    #[arg(long, default_value_t = 2)]
    pub clients: usize,
    /// Durability check instead of timing: N runs of `serve` killed with SIGKILL during
    /// sustained ingest, counting acknowledged observations found in the store after each.
    #[arg(long)]
    pub kill9: Option<usize>,
    /// Target API request rate, requests/s (with --api).
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Service token for --api (`citybrain demo` prints them); default `$CITYBRAIN_TOKEN`.
    #[arg(long)]
    pub token: Option<String>,
    /// Token for the API phase's reads (live state, history, the controller event log,
    /// rejected records) when the ingest token may not read them all; default `--token`.
    #[arg(long)]
    pub read_token: Option<String>,
    /// Time the authorisation path in-process (credential to caller, decision, audit)
    /// instead: N requests per case, percentiles reported.
    #[arg(long)]
    pub auth: Option<usize>,
    /// MQTT load instead: QoS 1 publish → durable through the broker at HOST:PORT
    /// (a brain with its bridge in this process; `--clients` gateways, `--batch` records
    /// per message, `--seconds` per phase).
    #[arg(long, value_name = "HOST:PORT")]
    pub mqtt: Option<String>,
    /// Durability across a Mosquitto restart and `kill -9` of the brain: N runs against a
    /// Mosquitto this command starts on 127.0.0.1:18283 (persistence in a temp directory).
    #[arg(long)]
    pub mqtt_kill9: Option<usize>,
    /// The NGSI-LD load instead: N entities upserted over loopback HTTP in batches of
    /// `--batch` (durable), then notification latency with `--ngsi-subs` subscriptions.
    #[arg(long)]
    pub ngsi: Option<usize>,
    /// Subscriptions for the NGSI-LD notification phase.
    #[arg(long, default_value_t = 1000)]
    pub ngsi_subs: usize,
}

struct Case {
    name: String,
    roadnet: PathBuf,
    flow: PathBuf,
    format: &'static str,
}

#[derive(Clone, Copy, Default)]
struct Run {
    wall: f64,
    run: f64,
    ups: f64,
    rss: f64,
    att: f64,
    created: f64,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if let Some(runs) = args.kill9 {
        anyhow::ensure!(runs > 0 && args.batch > 0, "--kill9 and --batch must be positive");
        return crate::kill9::run(runs, args.batch.min(2000));
    }
    if let Some(broker) = &args.mqtt {
        anyhow::ensure!(
            args.batch > 0 && args.clients > 0 && args.seconds > 0.0,
            "--batch, --clients and --seconds must be positive"
        );
        return crate::bench_mqtt::run(&crate::bench_mqtt::MqttLoadArgs {
            broker: broker.clone(),
            seconds: args.seconds,
            batch: args.batch,
            clients: args.clients,
        });
    }
    if let Some(runs) = args.mqtt_kill9 {
        anyhow::ensure!(runs > 0 && args.batch > 0, "--mqtt-kill9 and --batch must be positive");
        return crate::mqtt_kill9::run(runs, args.batch.min(2000));
    }
    if let Some(n) = args.ngsi {
        anyhow::ensure!(n > 0 && args.batch > 0, "--ngsi and --batch must be positive");
        return crate::bench_ngsi::run(n, args.batch.min(ngsi::batch::MAX_BATCH), args.ngsi_subs);
    }
    if let Some(n) = args.auth {
        return crate::trust::bench_auth(n.max(1000));
    }
    if let Some(url) = &args.api {
        anyhow::ensure!(
            args.batch > 0 && args.clients > 0 && args.seconds > 0.0 && args.rate > 0.0,
            "--batch, --clients, --seconds and --rate must be positive"
        );
        return crate::loadgen::run(&crate::loadgen::LoadArgs {
            url: url.clone(),
            seconds: args.seconds,
            batch: args.batch,
            clients: args.clients,
            rate: args.rate,
            token: args.token.clone().or_else(|| std::env::var("CITYBRAIN_TOKEN").ok()),
            read_token: args.read_token.clone(),
        });
    }
    let data = scenario::data_dir(args.data.as_deref())?;
    let mut cases = vec![
        case(&data, "hangzhou_4x4", "cityflow/hangzhou_4x4", "roadnet.json", "flow.json", "cityflow"),
        case(&data, "hangzhou_4x4_sumo", "sumo/hangzhou_4x4", "hangzhou_4x4.net.xml", "hangzhou_4x4.rou.xml", "sumo"),
        case(&data, "jinan_3x4", "cityflow/jinan_3x4", "roadnet.json", "flow.json", "cityflow"),
        case(&data, "nanchang_round2", "cbengine/nanchang_round2", "roadnet.txt", "flow.txt", "cbengine"),
    ];
    let tmp;
    if let Some(n) = args.gen_size {
        tmp = std::env::temp_dir().join(format!("citybrain-bench-gen-{n}"));
        crate::gen::write_city(&crate::gen::GenArgs::sized(n, &tmp))?;
        cases.push(Case {
            name: format!("generated_{n}x{n}"),
            roadnet: tmp.join("roadnet.json"),
            flow: tmp.join("flow.json"),
            format: "cityflow",
        });
    }
    let exe = std::env::current_exe()?;
    println!("| scenario | vehicles | wall s (load+run) | run s | vehicle updates/s | peak RSS MiB | ATT s |");
    println!("|---|---|---|---|---|---|---|");
    for c in cases.iter().filter(|c| args.only.as_deref().is_none_or(|o| c.name.contains(o))) {
        let mut runs = Vec::new();
        for _ in 0..args.repeat.max(1) {
            runs.push(one(&exe, c, args)?);
        }
        let m = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        println!(
            "| {} | {:.0} | {:.3} | {:.3} | {:.2}M | {:.1} | {:.2} |",
            c.name,
            m(|r| r.created),
            m(|r| r.wall),
            m(|r| r.run),
            m(|r| r.ups) / 1e6,
            m(|r| r.rss) / 1048576.0,
            m(|r| r.att)
        );
    }
    Ok(())
}

fn case(data: &Path, name: &str, dir: &str, r: &str, f: &str, format: &'static str) -> Case {
    let d = data.join(dir);
    Case { name: name.into(), roadnet: d.join(r), flow: d.join(f), format }
}

fn one(exe: &Path, c: &Case, args: &BenchArgs) -> Result<Run> {
    let out = Command::new(exe)
        .args(["sim", "--json", "--format", c.format, "--steps", &args.steps.to_string(), "--threads", &args.threads.to_string()])
        .arg("--roadnet")
        .arg(&c.roadnet)
        .arg("--flow")
        .arg(&c.flow)
        .output()
        .with_context(|| format!("running {}", c.name))?;
    if !out.status.success() {
        bail!("{} failed: {}", c.name, String::from_utf8_lossy(&out.stderr));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("parsing sim --json output")?;
    let g = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    Ok(Run {
        wall: g("wall_s"),
        run: g("run_s"),
        ups: g("vehicle_updates_per_s"),
        rss: g("peak_rss_bytes"),
        att: g("average_travel_time_s"),
        created: g("vehicles_created"),
    })
}
