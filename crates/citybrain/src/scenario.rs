//! Loading scenarios from files: the only place the CLI reads network and demand files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use twin::Scenario;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Cityflow,
    Cbengine,
    Sumo,
}

impl Format {
    /// Guess from the roadnet file name: `.txt` is CBEngine, `.xml` or `.sumocfg` SUMO,
    /// anything else CityFlow JSON.
    pub fn detect(roadnet: &Path) -> Format {
        match roadnet.extension().and_then(|e| e.to_str()) {
            Some("txt") => Format::Cbengine,
            Some("xml") | Some("sumocfg") => Format::Sumo,
            _ => Format::Cityflow,
        }
    }
}

/// The scenario flags shared by `sim` and `eval`.
#[derive(Args, Debug, Clone)]
pub struct ScenarioArgs {
    /// Roadnet file (CityFlow JSON, CBEngine roadnet.txt, SUMO .net.xml), or a SUMO
    /// .sumocfg (its net, route and additional files; then --flow is not needed).
    #[arg(long)]
    pub roadnet: PathBuf,
    /// Flow file (CityFlow JSON, CBEngine flow.txt or SUMO .rou.xml).
    #[arg(long)]
    pub flow: Option<PathBuf>,
    /// Input format; guessed from the roadnet extension when omitted.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

impl ScenarioArgs {
    /// Whether the input is SUMO's (given or guessed format).
    pub fn is_sumo(&self) -> bool {
        self.format.unwrap_or_else(|| Format::detect(&self.roadnet)) == Format::Sumo
    }

    pub fn load(&self) -> Result<Scenario> {
        load_with_spec(&self.roadnet, self.flow.as_deref(), self.format).map(|(_, s)| s)
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// [`load`], also returning the importer-neutral network description (for exporting).
/// A `.sumocfg` roadnet brings its own route files (`flow` may then be omitted; if given,
/// it replaces them). SUMO vehicles that cannot be driven are skipped with a warning on
/// stderr naming each, then a summary.
pub fn load_with_spec(roadnet: &Path, flow: Option<&Path>, format: Option<Format>) -> Result<(twin::NetworkSpec, Scenario)> {
    use twin::import::{cbengine, cityflow};
    let format = format.unwrap_or_else(|| Format::detect(roadnet));
    if format == Format::Sumo {
        return load_sumo(roadnet, flow);
    }
    let flow = flow.context("--flow is required (only a .sumocfg names its own route files)")?;
    let (spec, network) = parse_network(roadnet, format)?;
    let (f, fl) = (read(flow)?, flow.display().to_string());
    let demand = match format {
        Format::Cityflow => cityflow::parse_flow(&f, &network, &fl),
        Format::Cbengine => cbengine::parse_flow(&f, &network, &fl),
        Format::Sumo => unreachable!("handled above"),
    }
    .map_err(anyhow::Error::msg)?;
    Ok((spec, Scenario { network, demand }))
}

/// SUMO: a `.net.xml` with a `.rou.xml`, or a `.sumocfg` (net, routes, additional files).
fn load_sumo(roadnet: &Path, flow: Option<&Path>) -> Result<(twin::NetworkSpec, Scenario)> {
    use twin::import::sumo;
    let is_cfg = roadnet.extension().is_some_and(|e| e == "sumocfg");
    let (net_path, mut route_paths, extra_paths, seed) = if is_cfg {
        let cfg = sumo::parse_config(&read(roadnet)?, &roadnet.display().to_string()).map_err(anyhow::Error::msg)?;
        let dir = roadnet.parent().unwrap_or(Path::new("."));
        let at = |f: &String| dir.join(f);
        (at(&cfg.net_file), cfg.route_files.iter().map(at).collect(), cfg.additional_files.iter().map(at).collect(), cfg.seed)
    } else {
        (roadnet.to_path_buf(), Vec::new(), Vec::<PathBuf>::new(), None)
    };
    if let Some(f) = flow {
        route_paths = vec![f.to_path_buf()];
    }
    anyhow::ensure!(!route_paths.is_empty() || !extra_paths.is_empty(), "--flow is required with a SUMO .net.xml");
    let texts = |paths: &[PathBuf]| -> Result<Vec<(String, String)>> {
        paths.iter().map(|p| Ok((read(p)?, p.display().to_string()))).collect()
    };
    let extra = texts(&extra_paths)?;
    let extra_refs: Vec<(&str, &str)> = extra.iter().map(|(t, n)| (t.as_str(), n.as_str())).collect();
    let (spec, network) =
        sumo::parse_net_with(&read(&net_path)?, &net_path.display().to_string(), &extra_refs).map_err(anyhow::Error::msg)?;
    // Additional files first: SUMO loads them before the routes, and they may define types.
    let routes = texts(&route_paths)?;
    let all: Vec<(&str, &str)> = extra_refs.iter().copied().chain(routes.iter().map(|(t, n)| (t.as_str(), n.as_str()))).collect();
    let (demand, report) = sumo::parse_routes_with(&all, &network, seed.unwrap_or(0)).map_err(anyhow::Error::msg)?;
    for w in report.warnings() {
        eprintln!("warning: {w}");
    }
    eprintln!("{}", report.summary());
    Ok((spec, Scenario { network, demand }))
}

/// The jam-resolution time for a run (`SimConfig::teleport_after`): `flag` if given (0 or
/// less: off); otherwise SUMO's 300 s for SUMO input, or a `.sumocfg`'s
/// `time-to-teleport`; off for CityFlow and CBEngine files.
pub fn teleport_after(args: &ScenarioArgs, flag: Option<f64>) -> Result<Option<f64>> {
    let on = |t: f64| (t > 0.0).then_some(t);
    if let Some(t) = flag {
        anyhow::ensure!(t.is_finite(), "--time-to-teleport must be a number of seconds, got {t}");
        return Ok(on(t));
    }
    if args.format.unwrap_or_else(|| Format::detect(&args.roadnet)) != Format::Sumo {
        return Ok(None);
    }
    if args.roadnet.extension().is_some_and(|e| e == "sumocfg") {
        let cfg = twin::import::sumo::parse_config(&read(&args.roadnet)?, &args.roadnet.display().to_string())
            .map_err(anyhow::Error::msg)?;
        if let Some(t) = cfg.time_to_teleport {
            return Ok(on(t));
        }
    }
    Ok(Some(twin::engine::SUMO_TIME_TO_TELEPORT))
}

/// A `.sumocfg`'s `step-length` (seconds per step), if the roadnet is one and sets it.
pub fn step_length(args: &ScenarioArgs) -> Result<Option<f64>> {
    if !args.is_sumo() || args.roadnet.extension().is_none_or(|e| e != "sumocfg") {
        return Ok(None);
    }
    let cfg = twin::import::sumo::parse_config(&read(&args.roadnet)?, &args.roadnet.display().to_string())
        .map_err(anyhow::Error::msg)?;
    Ok(cfg.step_length)
}

/// The vehicle model a scenario runs with: SUMO input with SUMO's behaviour (lane
/// changing, strategic lanes, teleports after [`teleport_after`]), CityFlow and CBEngine
/// files with CityFlow's (none of them, so CityFlow runs stay exact). `sim`, `serve` and
/// every other command that runs a scenario from files start from this.
pub fn model_config(args: &ScenarioArgs, time_to_teleport: Option<f64>) -> Result<twin::SimConfig> {
    let sumo = args.is_sumo();
    Ok(twin::SimConfig {
        // SUMO's vehicles change lanes to follow their routes.
        lane_change: sumo,
        strategic_lanes: sumo,
        signal_lookahead: sumo,
        teleport_after: teleport_after(args, time_to_teleport)?,
        ..Default::default()
    })
}

/// Read and import a roadnet file in `format`.
fn parse_network(roadnet: &Path, format: Format) -> Result<(twin::NetworkSpec, twin::Network)> {
    use twin::import::{cbengine, cityflow, sumo};
    if roadnet.extension().is_some_and(|e| e == "sumocfg") {
        return load_sumo(roadnet, None).map(|(spec, s)| (spec, s.network));
    }
    let (r, rn) = (read(roadnet)?, roadnet.display().to_string());
    match format {
        Format::Cityflow => cityflow::parse_roadnet(&r, &rn),
        Format::Cbengine => cbengine::parse_roadnet(&r, &rn),
        Format::Sumo => sumo::parse_net(&r, &rn),
    }
    .map_err(anyhow::Error::msg)
}

/// Write a scenario as CityFlow `roadnet.json` + `flow.json` into `dir`.
pub fn write_cityflow(dir: &Path, spec: &twin::NetworkSpec, scenario: &Scenario) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files = [
        ("roadnet.json", twin::import::cityflow::write_roadnet(spec)),
        ("flow.json", twin::import::cityflow::write_flow(&scenario.demand, &scenario.network)),
    ];
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Where the network is on Earth (`--origin`), and writing it as GeoJSON (`sim`, `gen`).
#[derive(Args, Debug, Clone, Default)]
pub struct GeoArgs {
    /// WGS84 origin of networks whose file gives no georeference (CityFlow files,
    /// generated cities, SUMO with plain offsets): network point (0, 0) goes there.
    /// Default 120.15,30.25 (West Lake, Hangzhou). Files with their own reference
    /// (CBEngine lat/lon, SUMO UTM) keep it, with a warning.
    #[arg(long, value_name = "LON,LAT", value_parser = parse_origin, allow_hyphen_values = true)]
    pub origin: Option<(f64, f64)>,
    /// Also write the network as GeoJSON to FILE: RFC 7946 (WGS84 lon/lat), or network
    /// metres with --geojson-local.
    #[arg(long, value_name = "FILE")]
    pub geojson: Option<PathBuf>,
    /// Write --geojson in the network's local metres instead of lon/lat (not RFC 7946).
    #[arg(long, requires = "geojson")]
    pub geojson_local: bool,
}

/// Clap parser for `LON,LAT`.
pub fn parse_origin(s: &str) -> Result<(f64, f64), String> {
    twin::geo::parse_origin(s).map_err(|e| e.to_string())
}

impl GeoArgs {
    /// Apply `--origin` and write `--geojson`.
    pub fn apply(&self, net: &mut twin::Network) -> Result<()> {
        apply_origin(net, self.origin)?;
        if let Some(path) = &self.geojson {
            let crs = if self.geojson_local { server::api::GeoJsonCrs::Local } else { server::api::GeoJsonCrs::Wgs84 };
            let text = server::api::network_geojson(net, crs).to_string();
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

/// Anchor a network without a georeference of its own at `origin` (lon, lat); a
/// network whose file gave one keeps it (with a warning on stderr).
pub fn apply_origin(net: &mut twin::Network, origin: Option<(f64, f64)>) -> Result<()> {
    let Some((lon, lat)) = origin else { return Ok(()) };
    match net.georef.anchored_at(lon, lat)? {
        Some(g) => net.georef = g,
        None => {
            eprintln!("warning: --origin/origin ignored: the network file gives its own georeference ({})", net.georef.describe())
        }
    }
    Ok(())
}

/// Read and import a roadnet alone (a brain without a twin).
pub fn load_network(roadnet: &Path) -> Result<twin::Network> {
    parse_network(roadnet, Format::detect(roadnet)).map(|(_, n)| n)
}

/// The shared data directory: `--data`, `$CITYBRAIN_DATA`, or `../shared/data`.
pub fn data_dir(arg: Option<&Path>) -> Result<PathBuf> {
    let p = match arg {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os("CITYBRAIN_DATA").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("../shared/data")),
    };
    if !p.is_dir() {
        bail!("shared data directory {} not found (pass --data DIR)", p.display());
    }
    Ok(p)
}

/// Peak resident set size of this process in bytes (Linux `VmHWM`), 0 if unknown.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
