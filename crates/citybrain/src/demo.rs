//! `citybrain demo` and `citybrain serve`: the live City Brain over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use brain::{Brain, BrainConfig, ClockSource};
use clap::Args;
use sense::CityZone;
use serde::Deserialize;
use twin::{Sim, SimConfig};

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Simulated seconds per wall-clock second.
    #[arg(long, default_value_t = 10.0)]
    pub speed: f64,
    /// Stop after this many simulated seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub duration: Option<f64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// Directory for the brain's SQLite file.
    #[arg(long, default_value = "citybrain-data")]
    pub data_dir: PathBuf,
    /// Dashboard directory.
    #[arg(long, default_value = "web")]
    pub web: PathBuf,
    /// Signal policy: `citybrain` (adaptive, default) or `fixed`.
    #[arg(long, default_value = "citybrain")]
    pub controller: String,
    /// The city's time zone (IANA name): the simulated day is today's date there.
    #[arg(long, default_value = sense::time::DEFAULT_TIMEZONE)]
    pub timezone: String,
    /// Local hour (0-24) at which the simulated day starts, today in `--timezone`.
    #[arg(long, default_value_t = 7.0)]
    pub start_hour: f64,
    /// WGS84 position LON,LAT of the generated city's point (0, 0) (default 120.15,30.25:
    /// West Lake, Hangzhou); lon/lat records and the GeoJSON map use it.
    #[arg(long, value_name = "LON,LAT", value_parser = crate::scenario::parse_origin, allow_hyphen_values = true)]
    pub origin: Option<(f64, f64)>,
    /// Play the day as fast as possible without HTTP and print the city's TPI, congested
    /// share and incidents every 15 minutes (`--duration` seconds, default a whole day).
    #[arg(long)]
    pub headless: bool,
    /// Bridge to an MQTT broker at HOST:PORT (e.g. 127.0.0.1:1883): devices publish
    /// observations, the brain publishes live state, signals and incidents. Off by default.
    #[arg(long, value_name = "HOST:PORT")]
    pub mqtt: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// JSON configuration file (see README: bind, port, data_dir, web, roadnet, flow, twin).
    #[arg(long)]
    pub config: PathBuf,
    /// Bridge to an MQTT broker at HOST:PORT (overrides the configuration's `mqtt.broker`).
    #[arg(long, value_name = "HOST:PORT")]
    pub mqtt: Option<String>,
}

/// `citybrain serve` configuration.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ServeConfig {
    #[serde(default = "default_bind")]
    bind: String,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default = "default_data")]
    data_dir: PathBuf,
    #[serde(default = "default_web")]
    web: PathBuf,
    /// The city's road network (CityFlow JSON, CBEngine text, SUMO `.net.xml`), or a
    /// SUMO `.sumocfg` (which brings its own routes).
    roadnet: PathBuf,
    /// Demand for the twin; the twin runs only when this is given (or the roadnet is a
    /// `.sumocfg`).
    flow: Option<PathBuf>,
    #[serde(default = "default_speed")]
    speed: f64,
    #[serde(default = "default_controller")]
    controller: String,
    /// HTTP limits and timeouts (see `server::config`); all optional.
    #[serde(default)]
    http: server::HttpSettings,
    /// The city's time zone, IANA name (civil dates in exports and ATSPM logs).
    #[serde(default = "default_timezone")]
    timezone: String,
    /// The plate pseudonymisation key as 64 hex characters; by default the keystore
    /// file `plate-key` in `data_dir` (created on first start).
    plate_key: Option<String>,
    /// Seconds a record may be ahead of the brain's clock.
    #[serde(default = "default_max_skew")]
    max_skew_s: f64,
    /// Seconds a record may be behind the brain's clock.
    #[serde(default = "default_max_age")]
    max_age_s: f64,
    /// `"LON,LAT"`: WGS84 origin of a network whose file gives no georeference (CityFlow,
    /// SUMO with plain offsets); default 120.15,30.25 (West Lake, Hangzhou).
    origin: Option<String>,
    /// OpenID Connect: accept JWTs of this issuer, checked against a JWKS file.
    oidc: Option<OidcSettings>,
    /// The MQTT bridge (off unless a broker is given here or with `--mqtt`).
    #[serde(default)]
    mqtt: crate::mqtt_cli::MqttSettings,
    /// Distance of the twin's advance detectors from the stop bar, metres (default 100;
    /// served by `/api/v1/signals/detectors`).
    advance_detector_m: Option<f64>,
    /// Retention per dataset class, days (`null` or absent: the default; see
    /// `governance::RetentionPolicy`). The store keeps each kind of row no longer than
    /// its dataset's class allows.
    #[serde(default)]
    retention: RetentionSettings,
    /// The NGSI-LD interface (`/ngsi-ld/v1`): context sources, notification targets, and
    /// the loopback-only anonymous mode for conformance runs.
    #[serde(default)]
    ngsi: crate::plugins::NgsiSettings,
}

/// `retention` of the `serve` configuration.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RetentionSettings {
    personal_days: Option<f64>,
    restricted_days: Option<f64>,
    internal_days: Option<f64>,
    public_days: Option<f64>,
}

impl RetentionSettings {
    fn policy(&self) -> Result<governance::RetentionPolicy> {
        let mut p = governance::RetentionPolicy::default();
        let days = |field: &str, v: Option<f64>| -> Result<Option<f64>> {
            match v {
                Some(d) if d.is_finite() && d > 0.0 => Ok(Some(d * 86_400.0)),
                Some(d) => anyhow::bail!("retention.{field}: must be a positive number of days, got {d}"),
                None => Ok(None),
            }
        };
        if let Some(s) = days("personal_days", self.personal_days)? {
            p.personal_s = s;
        }
        p.restricted_s = days("restricted_days", self.restricted_days)?.or(p.restricted_s);
        p.internal_s = days("internal_days", self.internal_days)?.or(p.internal_s);
        p.public_s = days("public_days", self.public_days)?.or(p.public_s);
        Ok(p)
    }
}

/// `oidc` of the `serve` configuration.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct OidcSettings {
    issuer: String,
    audience: String,
    jwks_file: PathBuf,
    /// Claim naming the department (default `department`).
    department_claim: Option<String>,
    /// Claim naming the role (default `role`).
    role_claim: Option<String>,
}
fn default_timezone() -> String {
    sense::time::DEFAULT_TIMEZONE.into()
}
fn default_max_skew() -> f64 {
    sense::PipelineConfig::default().max_skew_s
}
fn default_max_age() -> f64 {
    sense::PipelineConfig::default().max_age_s
}
fn default_bind() -> String {
    "127.0.0.1".into()
}
fn default_port() -> u16 {
    8080
}
fn default_data() -> PathBuf {
    "citybrain-data".into()
}
fn default_web() -> PathBuf {
    "web".into()
}
fn default_speed() -> f64 {
    1.0
}
fn default_controller() -> String {
    "citybrain".into()
}

struct Live {
    net: twin::Network,
    flows: Option<Vec<twin::Flow>>,
    /// The vehicle model the twin runs (SUMO input: SUMO's; see `scenario::model_config`).
    model: SimConfig,
    bind: String,
    port: u16,
    data_dir: PathBuf,
    web: PathBuf,
    speed: f64,
    seed: u64,
    duration: Option<f64>,
    controller: String,
    http: server::HttpConfig,
    timezone: CityZone,
    /// Demo: the simulated day starts at this local hour today; else at the wall clock.
    start_hour: Option<f64>,
    plate_key: Option<twin::sensors::PlateKey>,
    pipeline: sense::PipelineConfig,
    /// Create the demo departments' accounts and print them.
    demo_accounts: bool,
    /// Incidents the twin plays (the demo's day), seen by its virtual cameras.
    incidents: Option<twin::incident::IncidentPlan>,
    oidc: Option<governance::oidc::OidcConfig>,
    mqtt: Option<mqtt::MqttConfig>,
    /// Where the controllers' virtual detectors sit.
    detectors: twin::signal::DetectorLayout,
    /// Retention per dataset class (`None`: the default policy).
    retention: Option<governance::RetentionPolicy>,
    ngsi: crate::plugins::NgsiSettings,
}

pub fn run(a: &DemoArgs) -> Result<()> {
    anyhow::ensure!(a.speed.is_finite() && a.speed > 0.0, "--speed must be positive, got {}", a.speed);
    anyhow::ensure!((0.0..24.0).contains(&a.start_hour), "--start-hour must be within 0..24, got {}", a.start_hour);
    let timezone = CityZone::new(&a.timezone).map_err(|e| anyhow::anyhow!("--timezone: {e}"))?;
    // A whole day of demand with AM and PM peaks, and incidents through the day.
    let mut city = crate::demo_day::generate(a.start_hour, crate::demo_day::PEAK_VEHICLES_PER_HOUR)?;
    let incidents = crate::demo_day::incidents(&city.network, a.seed);
    crate::scenario::apply_origin(&mut city.network, a.origin)?;
    if a.headless {
        return crate::demo_day::headless(city, incidents, a, &timezone);
    }
    serve_live(Live {
        net: city.network,
        flows: Some(city.demand.flows),
        model: SimConfig::default(),
        bind: a.bind.clone(),
        port: a.port,
        data_dir: a.data_dir.clone(),
        web: a.web.clone(),
        speed: a.speed,
        seed: a.seed,
        duration: a.duration,
        controller: a.controller.clone(),
        http: server::HttpConfig::default(),
        timezone,
        start_hour: Some(a.start_hour),
        plate_key: None,
        pipeline: Default::default(),
        demo_accounts: true,
        incidents: Some(incidents),
        oidc: None,
        mqtt: crate::mqtt_cli::MqttSettings::default().config(a.mqtt.as_deref())?,
        detectors: Default::default(),
        retention: None,
        ngsi: Default::default(),
    })
}

pub fn serve(a: &ServeArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.config).with_context(|| format!("cannot read {}", a.config.display()))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let cfg: ServeConfig = serde_path_to_error::deserialize(de).map_err(|e| anyhow::anyhow!("{}: {e}", a.config.display()))?;
    let path = a.config.display();
    anyhow::ensure!(cfg.speed.is_finite() && cfg.speed > 0.0, "{path}: speed must be positive");
    anyhow::ensure!(cfg.max_skew_s.is_finite() && cfg.max_skew_s >= 0.0, "{path}: max_skew_s must be a non-negative number");
    anyhow::ensure!(cfg.max_age_s.is_finite() && cfg.max_age_s > 0.0, "{path}: max_age_s must be a positive number");
    let timezone = CityZone::new(&cfg.timezone).map_err(|e| anyhow::anyhow!("{path}: timezone: {e}"))?;
    let plate_key = match &cfg.plate_key {
        Some(hex) => Some(brain::keystore::parse_hex(hex).map_err(|e| anyhow::anyhow!("{path}: plate_key: {e}"))?),
        None => None,
    };
    let pipeline = sense::PipelineConfig { max_skew_s: cfg.max_skew_s, max_age_s: cfg.max_age_s, ..Default::default() };
    let http = cfg.http.apply(server::HttpConfig::default()).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    let (mut net, flows, model) = twin_input(&cfg.roadnet, cfg.flow.as_deref())?;
    let origin = match &cfg.origin {
        Some(o) => Some(crate::scenario::parse_origin(o).map_err(|e| anyhow::anyhow!("{}: origin: {e}", a.config.display()))?),
        None => None,
    };
    crate::scenario::apply_origin(&mut net, origin)?;
    let mut detectors = twin::signal::DetectorLayout::default();
    if let Some(m) = cfg.advance_detector_m {
        detectors.advance_m = m;
    }
    detectors.validate().map_err(|e| anyhow::anyhow!("{path}: advance_detector_m: {e}"))?;
    let retention = cfg.retention.policy().map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    serve_live(Live {
        net,
        flows,
        model,
        bind: cfg.bind,
        port: cfg.port,
        data_dir: cfg.data_dir,
        web: cfg.web,
        speed: cfg.speed,
        seed: 1,
        duration: None,
        controller: cfg.controller,
        http,
        timezone,
        start_hour: None,
        plate_key,
        pipeline,
        demo_accounts: false,
        incidents: None,
        oidc: cfg.oidc.map(|o| {
            let mut c = governance::oidc::OidcConfig::new(&o.issuer, &o.audience, o.jwks_file);
            c.department_claim = o.department_claim.unwrap_or(c.department_claim);
            c.role_claim = o.role_claim.unwrap_or(c.role_claim);
            c
        }),
        mqtt: cfg.mqtt.config(a.mqtt.as_deref()).map_err(|e| anyhow::anyhow!("{path}: {e}"))?,
        detectors,
        retention: Some(retention),
        ngsi: cfg.ngsi,
    })
}

/// What `serve` gives the twin: the network, the demand (when `flow` is given or the
/// roadnet is a `.sumocfg`) and the vehicle model its format runs with.
fn twin_input(
    roadnet: &std::path::Path,
    flow: Option<&std::path::Path>,
) -> Result<(twin::Network, Option<Vec<twin::Flow>>, SimConfig)> {
    let args =
        crate::scenario::ScenarioArgs { roadnet: roadnet.to_path_buf(), flow: flow.map(|f| f.to_path_buf()), format: None };
    let model = crate::scenario::model_config(&args, None)?;
    if flow.is_some() || roadnet.extension().is_some_and(|e| e == "sumocfg") {
        let s = args.load()?;
        return Ok((s.network, Some(s.demand.flows), model));
    }
    Ok((crate::scenario::load_network(roadnet)?, None, model))
}

fn serve_live(l: Live) -> Result<()> {
    std::fs::create_dir_all(&l.data_dir).with_context(|| format!("cannot create {}", l.data_dir.display()))?;
    check_writable(&l.data_dir)?;
    let addr: SocketAddr =
        format!("{}:{}", l.bind, l.port).parse().with_context(|| format!("bad --bind/--port {}:{}", l.bind, l.port))?;
    // Plate keys: the keystore's schedule (a new key each civil day, keys past the
    // personal-data retention destroyed), or a configured key (never rotated away).
    let today = {
        let w = brain::wall_clock();
        ((w + f64::from(l.timezone.utc_offset_s(w))) / 86_400.0).floor() as i64
    };
    let schedule = match l.plate_key {
        Some(k) => brain::keystore::KeySchedule::fixed(k, today),
        None => {
            let created = !l.data_dir.join(brain::keystore::KEY_FILE).exists();
            let s = brain::keystore::KeySchedule::open(&l.data_dir, today)?;
            if created {
                eprintln!("created the plate key {}", l.data_dir.join(brain::keystore::KEY_FILE).display());
            }
            s
        }
    };
    let plate_key = schedule.key_for(today).unwrap_or_else(twin::sensors::PlateKey::random);
    // The demo's day is today in the city, from the start hour; `serve` runs on the wall
    // clock (a twin, if any, starts now).
    let wall = brain::wall_clock();
    let day_start_s = match l.start_hour {
        Some(h) => l.timezone.day_at(wall, h).map_err(anyhow::Error::msg)?,
        None => wall,
    };
    let mut cfg = BrainConfig {
        speed: l.speed,
        duration_s: l.duration,
        day_start_s,
        clock: if l.flows.is_some() { ClockSource::Driven } else { ClockSource::Wall },
        timezone: l.timezone.clone(),
        pipeline: l.pipeline.clone(),
        ..BrainConfig::new(l.data_dir.join("citybrain.sqlite"))
    };
    cfg.sensors.plate_key = plate_key;
    cfg.sensors.detectors = l.detectors;
    eprintln!("city time zone {}; the twin's day starts at {}", l.timezone.name(), l.timezone.format(day_start_s));
    let gov = crate::trust::open(&l.data_dir, l.oidc.clone(), l.retention.clone())?;
    crate::trust::check_bind(&addr, &gov)?;
    if l.demo_accounts {
        crate::trust::demo_accounts(&gov, &format!("http://{addr}/"))?;
    }
    let brain = Brain::open_with(l.net.clone(), &cfg, Box::new(governance::Access(gov.clone())))?;
    let keep_days = (gov.config().retention.personal_s / 86_400.0).ceil().max(1.0) as i64;
    brain.set_key_schedule(schedule, keep_days);
    crate::plugins::register(&brain, l.start_hour.is_some());
    if l.ngsi.anonymous_as.is_some() && !addr.ip().is_loopback() {
        anyhow::bail!("ngsi.anonymous_as: refusing to let anonymous callers act as a department on {addr}; bind 127.0.0.1");
    }
    crate::plugins::register_ngsi(&brain, &l.data_dir, &gov, &l.ngsi)?;
    if let (Some(plan), Some(svc)) = (&l.incidents, brain.service::<incidents::Incidents>()) {
        // The twin's day starts where `run_twin` will start it.
        let t0 = match brain.stored_until() {
            Some(t) if t >= cfg.day_start_s => t + cfg.state_interval_s,
            _ => cfg.day_start_s,
        };
        let truth = incidents::cameras::Truth::from_plan(&brain.net, plan);
        let cams =
            incidents::cameras::Cameras::new(&brain.net, incidents::cameras::CameraConfig { seed: l.seed, ..Default::default() });
        svc.with(|c| c.cameras = Some((cams, truth, t0)));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let twin_thread = match l.flows {
        Some(flows) => {
            let scenario = twin::Scenario { network: l.net.clone(), demand: twin::Demand { flows } };
            // Check the controller name here, where the error can still reach the user.
            crate::control::live_controller(&l.controller, &scenario, None)?;
            brain.record_decision(
                "controller",
                "signal-policy",
                "every signalised intersection",
                &format!("signal control by the '{}' policy behind the safety layer (minimum greens, intergreens)", l.controller),
            );
            let (b, s, name) = (brain.clone(), stop.clone(), l.controller.clone());
            let sim_cfg = SimConfig { seed: l.seed, record_events: true, ..l.model };
            let plan = l.incidents.clone();
            let corridors = brain.service::<corridor::Corridors>();
            Some(std::thread::spawn(move || {
                let control = crate::control::live_controller(&name, &scenario, corridors).ok().flatten();
                let mut sim = Sim::from_parts(scenario.network, scenario.demand.flows, sim_cfg);
                if let Some(plan) = &plan {
                    if let Err(e) = sim.schedule_incidents(plan) {
                        tracing::error!("the day's incidents: {e}");
                    }
                }
                brain::run_twin(b, sim, control, s)
            }))
        }
        None => {
            let (b, s) = (brain.clone(), stop.clone());
            Some(std::thread::spawn(move || {
                brain::run_publisher(b, std::time::Duration::from_secs(5), s);
                0
            }))
        }
    };
    let rt = tokio::runtime::Runtime::new()?;
    let http = server::HttpConfig { web_dir: l.web.clone(), ngsi_anonymous_as: l.ngsi.anonymous_as.clone(), ..l.http.clone() };
    let hub = server::Hub::new(&brain.net);
    server::attach(&brain, hub.clone());
    let bridge = match l.mqtt {
        Some(c) => Some(crate::mqtt_cli::start(&brain, c, gov.clone())?),
        None => None,
    };
    let app = server::router_with(hub, brain.clone(), &http, Some(gov.clone()));
    let retention = {
        let (g, s, b, base) = (gov.clone(), stop.clone(), brain.clone(), cfg.retention.clone());
        std::thread::spawn(move || {
            // Retention applied continuously, once a minute: governance's own data, and
            // the store's windows from the policy per dataset class (pruned now and by
            // the twin loop every city hour).
            while !s.load(Ordering::Relaxed) {
                if let Err(e) = g.apply_retention(brain::wall_clock()) {
                    tracing::warn!("retention: {e}");
                }
                b.set_retention(g.store_retention(&base));
                b.prune();
                for _ in 0..300 {
                    if s.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            }
        })
    };
    let stop2 = stop.clone();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        println!("citybrain is live at http://{addr}/  (Ctrl-C to stop)");
        let shutdown = async move {
            let ctrl_c = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            let finished = async {
                while !stop2.load(Ordering::Relaxed) {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            };
            tokio::select! { _ = ctrl_c => {}, _ = finished => {} }
        };
        server::serve(listener, app, &http, shutdown).await.context("http server")
    })?;
    stop.store(true, Ordering::Relaxed);
    if let Some(b) = bridge {
        b.stop();
    }
    let _ = retention.join();
    let _ = gov.audit.sync();
    if let Some(t) = twin_thread {
        let steps = t.join().map_err(|_| anyhow::anyhow!("twin thread panicked"))?;
        eprintln!("stopped after {steps} simulated seconds; data flushed to {}", l.data_dir.display());
    }
    Ok(())
}

/// Refuse to start on a data directory the brain cannot write: better a clear error now
/// than a brain that answers 503 to every batch.
fn check_writable(dir: &std::path::Path) -> Result<()> {
    let probe = dir.join(format!(".citybrain-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"ok")
        .and_then(|_| std::fs::remove_file(&probe))
        .with_context(|| format!("data directory {} is not writable", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../city/src/testutil")).join(name)
    }

    #[test]
    fn serve_runs_sumo_input_with_sumos_vehicle_model() {
        let (net, flows, m) = twin_input(&testdata("cross.net.xml"), Some(&testdata("cross.rou.xml"))).unwrap();
        assert!(!net.roads.is_empty() && flows.is_some_and(|f| !f.is_empty()));
        assert!(m.lane_change && m.strategic_lanes, "{m:?}");
        assert_eq!(m.teleport_after, Some(twin::engine::SUMO_TIME_TO_TELEPORT), "{m:?}");
    }

    #[test]
    fn serve_keeps_cityflows_model_for_other_input() {
        let (_, flows, m) = twin_input(&testdata("cross_roadnet.txt"), Some(&testdata("cross_flow.txt"))).unwrap();
        assert!(flows.is_some());
        assert!(!m.lane_change && !m.strategic_lanes && m.teleport_after.is_none(), "{m:?}");
        // Without demand the network alone loads, and the model is CityFlow's.
        let (_, none, m) = twin_input(&testdata("cross_roadnet.txt"), None).unwrap();
        assert!(none.is_none() && !m.lane_change && m.teleport_after.is_none());
    }
}
