//! SUMO demand: route files (`.rou.xml`) and the route-bearing parts of additional files,
//! read against a built network, possibly several files in order (as a `.sumocfg` lists
//! them), into [`Demand`] plus a [`RouteReport`] of what was skipped or ignored.
//!
//! How SUMO concepts map:
//! - `<vType>` maps accel → max/usual acceleration, decel → usual deceleration,
//!   emergencyDecel → maximum deceleration, tau → headway time, with SUMO's defaults
//!   for absent attributes. `speedFactor`, `sigma` and `vClass` are ignored.
//!   `<vTypeDistribution>` (nested `<vType probability=…>`, or `vTypes` + `probabilities`)
//!   draws a type per vehicle; a distribution named `DEFAULT_VEHTYPE` replaces the default.
//! - `<route>` and `<routeDistribution>` (nested routes, or `refId`s, with `probability`;
//!   or `routes` + `probabilities`), top-level or nested in a vehicle or flow; a vehicle
//!   naming a distribution draws one route.
//! - `<vehicle>`, `<trip>` and `<flow>` depart by `depart` (seconds or `begin`), or for flows
//!   by `period`, `vehsPerHour`, `number` (evenly spaced), `probability` (a vehicle each
//!   second with that probability) or `period="exp(rate)"` (Poisson). Random draws are
//!   seeded: the same files and seed give the same demand. Fractional departure times take
//!   effect at the next whole step, as in SUMO with a 1 s step.
//! - `<trip>` and `<flow>` with `from`/`to` (and `via`) edges are routed here on the
//!   network's shortest free-flow travel-time path (road length over speed limit), as
//!   SUMO routes them at insertion in an empty network.
//! - A vehicle, trip or flow whose route cannot be driven (an unknown edge, two edges the
//!   network does not join — a U-turn the twin lacks, for instance — or no path from
//!   `from` to `to`) is skipped and reported with its id, file and line; the rest loads.
//! - `departSpeed` (a number, `max`, `desired`, `speedLimit`, `random`, `last`, `avg`)
//!   sets [`Depart::speed`]; without it a vehicle enters at rest, SUMO's default.
//! - `departLane` (a lane index, `first`, `random`, `free`, `allowed`, `best`) sets
//!   [`Depart::lane`]; without it the twin chooses among the lanes leading on (SUMO's
//!   default would be `first`, the rightmost lane).
//! - `departPos` (metres, `base`, `random`, `free`, `random_free`, `last`) sets
//!   [`Depart::pos`]; `stop` and `splitFront` skip the vehicle.
//! - Not modelled, counted in [`RouteReport::ignored`]: `<stop>`s (the vehicle drives
//!   through), `arrivalPos`, `arrivalLane`, `arrivalSpeed` (the twin leaves at the end of
//!   the last edge), persons and containers (skipped whole), and any element the twin has
//!   no use for.

use std::collections::{BTreeMap, HashMap};

use super::sumo_router::Router;
use super::xml::{elements, At, Element};
use super::ImportError;
use crate::demand::{
    validate_flow_timing, validate_route, Demand, Depart, DepartLane, DepartPos, DepartSpeed, Flow, VehicleParams,
};
use crate::ids::RoadId;
use crate::network::Network;

/// SUMO's default end of a flow without one: 24 h.
const DEFAULT_FLOW_END: f64 = 86_400.0;

/// One skipped vehicle, trip or flow.
#[derive(Clone, Debug, PartialEq)]
pub struct Skipped {
    pub file: String,
    pub line: usize,
    pub id: String,
    /// Why, grouped in the summary by this short kind.
    pub kind: SkipKind,
    pub reason: String,
    /// Vehicles lost with it (a flow loses all of its vehicles, a distribution only
    /// the ones that drew the bad route).
    pub vehicles: u64,
}

/// Why a vehicle was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipKind {
    /// The route names an edge the network does not have (or has no vehicle lane on).
    UnknownEdge,
    /// Two consecutive edges are not joined (a U-turn the twin does not model, say).
    NotConnected,
    /// No path from `from` to `to` (through `via`).
    NoPath,
    /// An unknown route or vehicle type.
    UnknownReference,
    /// A departure or routing the twin does not model (`depart="triggered"`, TAZ trips).
    Unsupported,
}

impl SkipKind {
    fn label(self) -> &'static str {
        match self {
            SkipKind::UnknownEdge => "unknown edge",
            SkipKind::NotConnected => "edges not connected",
            SkipKind::NoPath => "no path",
            SkipKind::UnknownReference => "unknown route or type",
            SkipKind::Unsupported => "unsupported departure or routing",
        }
    }
}

/// What the import left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteReport {
    /// Vehicles, trips and flows skipped, in file order.
    pub skipped: Vec<Skipped>,
    /// Elements and attributes read but not modelled → how often they occurred.
    pub ignored: BTreeMap<String, u64>,
    /// Vehicles loaded (departures before SUMO's 24 h default end, per flow).
    pub vehicles: u64,
    /// Trips and flows routed from `from`/`to`.
    pub routed: u64,
}

impl RouteReport {
    /// One warning line per skipped definition: `file: line N: vehicle "id" skipped: reason`.
    pub fn warnings(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|s| format!("{}: line {}: {:?} skipped ({} vehicles): {}", s.file, s.line, s.id, s.vehicles, s.reason))
            .collect()
    }

    /// One line: how many were skipped and why, and what was ignored.
    pub fn summary(&self) -> String {
        let mut by: BTreeMap<SkipKind, (u64, u64)> = BTreeMap::new();
        for s in &self.skipped {
            let e = by.entry(s.kind).or_default();
            e.0 += 1;
            e.1 += s.vehicles;
        }
        let lost: u64 = self.skipped.iter().map(|s| s.vehicles).sum();
        let mut out = format!(
            "SUMO demand: {} vehicles loaded ({} routed from from/to); {} definitions skipped ({} vehicles)",
            self.vehicles,
            self.routed,
            self.skipped.len(),
            lost
        );
        if !by.is_empty() {
            let why: Vec<String> = by.iter().map(|(k, (n, v))| format!("{}: {n} ({v} vehicles)", k.label())).collect();
            out.push_str(&format!(" [{}]", why.join(", ")));
        }
        if !self.ignored.is_empty() {
            let ign: Vec<String> = self.ignored.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
            out.push_str(&format!("; not modelled: {}", ign.join(", ")));
        }
        out
    }
}

/// SUMO's default passenger car (`DEFAULT_VEHTYPE`).
pub(super) fn default_vtype() -> VehicleParams {
    VehicleParams {
        length: 5.0,
        width: 1.8,
        max_pos_acc: 2.6,
        usual_pos_acc: 2.6,
        usual_neg_acc: 4.5,
        max_neg_acc: 9.0,
        min_gap: 2.5,
        max_speed: 55.55,
        headway_time: 1.0,
        ..VehicleParams::default()
    }
}

/// A `<vType>`: its attributes over SUMO's defaults.
fn vtype(at: At, el: &Element) -> Result<VehicleParams, ImportError> {
    let d = default_vtype();
    let get = |key: &str, default: f64| -> Result<f64, ImportError> { Ok(at.num(el, key)?.unwrap_or(default)) };
    let accel = get("accel", d.max_pos_acc)?;
    let p = VehicleParams {
        length: get("length", d.length)?,
        width: get("width", d.width)?,
        max_pos_acc: accel,
        usual_pos_acc: accel,
        usual_neg_acc: get("decel", d.usual_neg_acc)?,
        max_neg_acc: get("emergencyDecel", d.max_neg_acc)?,
        min_gap: get("minGap", d.min_gap)?,
        max_speed: get("maxSpeed", d.max_speed)?,
        headway_time: get("tau", d.headway_time)?,
        ..d
    };
    p.validate("vType").map_err(|e| at.err(el, format!("{}: {}", e.path.trim_start_matches("vType."), e.message)))?;
    Ok(p)
}

/// A probability weight: non-negative and finite (default 1).
fn weight(at: At, el: &Element) -> Result<f64, ImportError> {
    let p = at.num(el, "probability")?.unwrap_or(1.0);
    if p < 0.0 {
        return Err(at.err(el, format!("probability must not be negative, got {p}")));
    }
    Ok(p)
}

/// A route as read: the roads, or why it cannot be driven.
type RouteIn = Result<Vec<RoadId>, (SkipKind, String)>;

/// A choice among weighted alternatives (one element: no draw).
#[derive(Clone, Debug)]
struct Choice<T>(Vec<(f64, T)>);

impl<T: Clone> Choice<T> {
    fn one(t: T) -> Self {
        Choice(vec![(1.0, t)])
    }
    fn is_fixed(&self) -> bool {
        self.0.len() == 1
    }
    fn draw(&self, rng: &mut Rng) -> T {
        if self.0.len() == 1 {
            return self.0[0].1.clone();
        }
        let total: f64 = self.0.iter().map(|(w, _)| w).sum();
        let mut u = rng.unit() * total;
        for (w, t) in &self.0 {
            if u < *w {
                return t.clone();
            }
            u -= w;
        }
        self.0.last().expect("non-empty choice").1.clone()
    }
}

/// SplitMix64: small, seeded, the same on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A vehicle, trip or flow waiting for every file to be read (so references may point
/// forward and across files).
struct Pending {
    file: String,
    el: Element,
    children: Vec<Element>,
}

/// Reads route files one after another, then builds the demand.
pub struct RouteReader<'n> {
    net: &'n Network,
    seed: u64,
    types: HashMap<String, Choice<VehicleParams>>,
    routes: HashMap<String, Choice<usize>>,
    /// Every route read, by index.
    route_list: Vec<RouteIn>,
    pending: Vec<Pending>,
    report: RouteReport,
    router: Option<Router>,
}

impl<'n> RouteReader<'n> {
    pub fn new(net: &'n Network, seed: u64) -> Self {
        let mut types = HashMap::new();
        types.insert("DEFAULT_VEHTYPE".to_string(), Choice::one(default_vtype()));
        RouteReader {
            net,
            seed,
            types,
            routes: HashMap::new(),
            route_list: Vec::new(),
            pending: Vec::new(),
            report: RouteReport::default(),
            router: None,
        }
    }

    fn ignore(&mut self, what: impl Into<String>) {
        *self.report.ignored.entry(what.into()).or_default() += 1;
    }

    /// Resolve an `edges` list.
    fn read_route(&self, edges: &str) -> RouteIn {
        let mut route = Vec::new();
        for name in edges.split_whitespace() {
            match self.net.road_by_name(name) {
                Some(r) => route.push(r),
                None => return Err((SkipKind::UnknownEdge, format!("route edge {name:?} is not in the network"))),
            }
        }
        validate_route(self.net, &route, "edges").map_err(|e| (SkipKind::NotConnected, e.message))?;
        Ok(route)
    }

    /// A `<route>` element: its route index (a `refId` refers to a route read before).
    fn route_el(&mut self, at: At, el: &Element) -> Result<Choice<usize>, ImportError> {
        if let Some(r) = el.get("refId") {
            return Ok(self.routes.get(r).cloned().unwrap_or_else(|| {
                self.route_list.push(Err((SkipKind::UnknownReference, format!("unknown route {r:?}"))));
                Choice::one(self.route_list.len() - 1)
            }));
        }
        let r = self.read_route(at.req(el, "edges")?);
        self.route_list.push(r);
        Ok(Choice::one(self.route_list.len() - 1))
    }

    /// A `<routeDistribution>` and its children (nested routes or `routes` attribute).
    fn route_dist(&mut self, at: At, el: &Element, children: &[Element]) -> Result<Choice<usize>, ImportError> {
        let mut alts = Vec::new();
        if let Some(names) = el.get("routes") {
            let probs = probabilities(at, el, names.split_whitespace().count())?;
            for (name, p) in names.split_whitespace().zip(probs) {
                let c = self.routes.get(name).cloned().ok_or_else(|| at.err(el, format!("routes: unknown route {name:?}")))?;
                alts.extend(c.0.into_iter().map(|(w, r)| (w * p, r)));
            }
        }
        for c in children.iter().filter(|c| c.depth == el.depth + 1) {
            if c.name != "route" {
                self.ignore(format!("<{}> in <routeDistribution>", c.name));
                continue;
            }
            let w = weight(at, c)?;
            let r = self.route_el(at, c)?;
            if let Some(id) = c.get("id") {
                self.routes.insert(id.to_string(), r.clone());
            }
            alts.extend(r.0.into_iter().map(|(x, r)| (x * w, r)));
        }
        if alts.is_empty() || alts.iter().all(|(w, _)| *w <= 0.0) {
            return Err(at.err(el, "a route distribution needs at least one route with a positive probability"));
        }
        Ok(Choice(alts))
    }

    /// A `<vTypeDistribution>`.
    fn type_dist(&mut self, at: At, el: &Element, children: &[Element]) -> Result<Choice<VehicleParams>, ImportError> {
        let mut alts = Vec::new();
        if let Some(names) = el.get("vTypes") {
            let probs = probabilities(at, el, names.split_whitespace().count())?;
            for (name, p) in names.split_whitespace().zip(probs) {
                let c = self.types.get(name).cloned().ok_or_else(|| at.err(el, format!("vTypes: unknown vType {name:?}")))?;
                alts.extend(c.0.into_iter().map(|(w, t)| (w * p, t)));
            }
        }
        for c in children.iter().filter(|c| c.depth == el.depth + 1 && c.name == "vType") {
            let p = vtype(at, c)?;
            alts.push((weight(at, c)?, p));
            self.types.insert(at.req(c, "id")?.to_string(), Choice::one(p));
        }
        if alts.is_empty() || alts.iter().all(|(w, _)| *w <= 0.0) {
            return Err(at.err(el, "a vType distribution needs at least one vType with a positive probability"));
        }
        Ok(Choice(alts))
    }

    /// Read one file. Elements the twin has no use for are counted in the report.
    pub fn add_file(&mut self, text: &str, file: &str) -> Result<(), ImportError> {
        let at = At { file };
        let els = elements(text, file)?;
        let Some(root) = els.first() else {
            return Err(ImportError::new(file, "line 1", "empty route file"));
        };
        // Additional files come with various roots (<additional>, <add>, <tlLogics>, ...).
        if matches!(root.name.as_str(), "net" | "configuration") {
            return Err(at.err(root, "not a SUMO route file: the root element must be <routes> or <additional>"));
        }
        let mut k = 1;
        while k < els.len() {
            let el = &els[k];
            let end = k + 1 + els[k + 1..].iter().take_while(|c| c.depth > el.depth).count();
            let children = &els[k + 1..end];
            k = end;
            match el.name.as_str() {
                "vType" => {
                    let p = vtype(at, el)?;
                    self.types.insert(at.req(el, "id")?.to_string(), Choice::one(p));
                }
                "vTypeDistribution" => {
                    let d = self.type_dist(at, el, children)?;
                    self.types.insert(at.req(el, "id")?.to_string(), d);
                }
                "route" => {
                    let r = self.route_el(at, el)?;
                    self.routes.insert(at.req(el, "id")?.to_string(), r);
                }
                "routeDistribution" => {
                    let d = self.route_dist(at, el, children)?;
                    self.routes.insert(at.req(el, "id")?.to_string(), d);
                }
                "vehicle" | "trip" | "flow" => {
                    at.req(el, "id")?;
                    self.pending.push(Pending { file: file.to_string(), el: el.clone(), children: children.to_vec() })
                }
                "interval" => {
                    // Definitions grouped in an interval: read them as if at the top.
                    k -= children.len();
                    self.ignore("<interval> (its contents are read)");
                }
                // Read by the network importer (`sumo::parse_net_with`).
                "tlLogic" => {}
                name => self.ignore(format!("<{name}>")),
            }
        }
        Ok(())
    }

    /// Build the demand from every file read.
    pub fn finish(mut self) -> Result<(Demand, RouteReport), ImportError> {
        let mut flows = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        for (n, p) in pending.iter().enumerate() {
            let mut rng = Rng::new(self.seed, n as u64 + 1);
            self.vehicle(p, &mut rng, &mut flows)?;
        }
        Ok((Demand { flows }, self.report))
    }

    fn skip(&mut self, p: &Pending, kind: SkipKind, reason: String, vehicles: u64) {
        let id = p.el.get("id").unwrap_or("").to_string();
        self.report.skipped.push(Skipped { file: p.file.clone(), line: p.el.line, id, kind, reason, vehicles });
    }

    /// One vehicle, trip or flow → flows (one per departure when a type or route is drawn).
    fn vehicle(&mut self, p: &Pending, rng: &mut Rng, flows: &mut Vec<Flow>) -> Result<(), ImportError> {
        let at = At { file: &p.file };
        let el = &p.el;
        for key in ["arrivalPos", "arrivalLane", "arrivalSpeed"] {
            if el.get(key).is_some() {
                self.ignore(key);
            }
        }
        let stops = p.children.iter().filter(|c| c.name == "stop").count();
        for _ in 0..stops {
            self.ignore("<stop>");
        }
        let times = match departures(at, el, rng)? {
            Ok(t) => t,
            Err(reason) => {
                self.skip(p, SkipKind::Unsupported, reason, 1);
                return Ok(());
            }
        };
        let count = times.count();
        if count == 0 {
            return Ok(());
        }
        let speed = match el.get("departSpeed").map(|v| (v, DepartSpeed::parse_sumo(v))) {
            None => DepartSpeed::default(),
            Some((_, Some(speed))) => speed,
            Some((v, None)) => {
                self.skip(p, SkipKind::Unsupported, format!("departSpeed={v:?} is not a speed or one of SUMO's keywords"), count);
                return Ok(());
            }
        };
        let lane = match el.get("departLane").map(|v| (v, DepartLane::parse_sumo(v))) {
            None => DepartLane::default(),
            Some((_, Some(lane))) => lane,
            Some((v, None)) => {
                self.skip(
                    p,
                    SkipKind::Unsupported,
                    format!("departLane={v:?} is not a lane index or one of SUMO's keywords"),
                    count,
                );
                return Ok(());
            }
        };
        let pos = match el.get("departPos").map(|v| (v, DepartPos::parse_sumo(v))) {
            None => DepartPos::default(),
            Some((_, Some(pos))) => pos,
            Some((v, None)) => {
                self.skip(
                    p,
                    SkipKind::Unsupported,
                    format!("departPos={v:?} is not a position or a keyword the twin models"),
                    count,
                );
                return Ok(());
            }
        };
        let depart = Depart { speed, lane, pos };
        let ty = el.get("type").unwrap_or("DEFAULT_VEHTYPE");
        let Some(types) = self.types.get(ty).cloned() else {
            self.skip(p, SkipKind::UnknownReference, format!("unknown vType {ty:?}"), count);
            return Ok(());
        };
        let routes = match self.route_of(at, p)? {
            Ok(r) => r,
            Err((kind, reason)) => {
                self.skip(p, kind, reason, count);
                return Ok(());
            }
        };
        let id = el.get("id").unwrap_or("");
        if let (true, true, Times::Periodic { start, interval, last }) = (types.is_fixed(), routes.is_fixed(), &times) {
            let route = match &self.route_list[routes.0[0].1] {
                Ok(r) => r.clone(),
                Err((kind, reason)) => {
                    self.skip(p, *kind, reason.clone(), count);
                    return Ok(());
                }
            };
            // The engine releases on whole steps (CityFlow's rule stops a flow once the
            // clock passes `end`), so a fractional last departure is kept until the next
            // second, where SUMO would insert it too.
            let flow = Flow { params: types.0[0].1, route, interval: *interval, start: *start, end: Some(last.ceil()), depart };
            validate_flow_timing(&flow, id).map_err(|e| at.err(el, e.message))?;
            flows.push(flow);
            self.report.vehicles += count;
            return Ok(());
        }
        let (mut lost, mut why) = (0u64, None);
        for t in times.list() {
            let params = types.draw(rng);
            let r = routes.draw(rng);
            match &self.route_list[r] {
                Ok(route) => {
                    let flow = Flow { params, route: route.clone(), interval: 1.0, start: t, end: Some(t.ceil()), depart };
                    validate_flow_timing(&flow, id).map_err(|e| at.err(el, e.message))?;
                    flows.push(flow);
                    self.report.vehicles += 1;
                }
                Err(e) => {
                    lost += 1;
                    why.get_or_insert_with(|| e.clone());
                }
            }
        }
        if let Some((kind, reason)) = why {
            self.skip(p, kind, reason, lost);
        }
        Ok(())
    }

    /// The route (or distribution) of a vehicle: nested, named, or routed from/to.
    fn route_of(&mut self, at: At, p: &Pending) -> Result<Result<Choice<usize>, (SkipKind, String)>, ImportError> {
        let el = &p.el;
        if let Some(c) = p.children.iter().find(|c| c.depth == el.depth + 1 && c.name == "route") {
            return Ok(Ok(self.route_el(at, c)?));
        }
        if let Some(i) = p.children.iter().position(|c| c.depth == el.depth + 1 && c.name == "routeDistribution") {
            let c = &p.children[i];
            let grand: Vec<Element> = p.children[i + 1..].iter().take_while(|g| g.depth > c.depth).cloned().collect();
            return Ok(Ok(self.route_dist(at, c, &grand)?));
        }
        if let Some(name) = el.get("route") {
            return Ok(self.routes.get(name).cloned().ok_or((SkipKind::UnknownReference, format!("unknown route {name:?}"))));
        }
        if el.get("fromJunction").is_some() || el.get("fromTaz").is_some() || el.get("fromXY").is_some() {
            return Ok(Err((SkipKind::Unsupported, "trips from junctions, TAZ or coordinates are not routed".into())));
        }
        let (Some(from), Some(to)) = (el.get("from"), el.get("to")) else {
            return Ok(Err((SkipKind::Unsupported, "no route (route, a nested <route>, or from and to)".into())));
        };
        let mut stops = vec![from];
        stops.extend(el.get("via").unwrap_or("").split_whitespace());
        stops.push(to);
        let mut ids = Vec::with_capacity(stops.len());
        for s in stops {
            match self.net.road_by_name(s) {
                Some(r) => ids.push(r),
                None => return Ok(Err((SkipKind::UnknownEdge, format!("edge {s:?} is not in the network")))),
            }
        }
        let router = self.router.get_or_insert_with(|| Router::new(self.net));
        let Some(route) = router.route_via(&ids) else {
            let names: Vec<&str> = ids.iter().map(|&r| self.net.road(r).name.as_str()).collect();
            return Ok(Err((SkipKind::NoPath, format!("no path through {}", names.join(" → ")))));
        };
        self.report.routed += 1;
        self.route_list.push(Ok(route));
        Ok(Ok(Choice::one(self.route_list.len() - 1)))
    }
}

/// `probabilities="a b c"` for `n` entries (all 1 when absent).
fn probabilities(at: At, el: &Element, n: usize) -> Result<Vec<f64>, ImportError> {
    let Some(s) = el.get("probabilities") else { return Ok(vec![1.0; n]) };
    let v: Vec<f64> = s
        .split_whitespace()
        .map(|x| x.parse::<f64>().ok().filter(|p| p.is_finite() && *p >= 0.0))
        .collect::<Option<_>>()
        .ok_or_else(|| at.err(el, format!("probabilities: expected non-negative numbers, got {s:?}")))?;
    if v.len() != n {
        return Err(at.err(el, format!("probabilities: {} values for {n} entries", v.len())));
    }
    Ok(v)
}

/// Departure times of one definition.
enum Times {
    /// `start`, `start + interval`, … up to `last` inclusive.
    Periodic {
        start: f64,
        interval: f64,
        last: f64,
    },
    List(Vec<f64>),
}

impl Times {
    fn count(&self) -> u64 {
        match self {
            Times::Periodic { start, interval, last } => ((last - start) / interval).round() as u64 + 1,
            Times::List(v) => v.len() as u64,
        }
    }
    fn list(&self) -> Vec<f64> {
        match self {
            Times::Periodic { start, interval, .. } => (0..self.count()).map(|i| start + i as f64 * interval).collect(),
            Times::List(v) => v.clone(),
        }
    }
}

/// When a vehicle, trip or flow departs; `Ok(Err(reason))` for departures the twin
/// does not model.
fn departures(at: At, el: &Element, rng: &mut Rng) -> Result<Result<Times, String>, ImportError> {
    if el.name != "flow" {
        let depart = at.req(el, "depart")?;
        let t = match depart.trim() {
            "begin" => 0.0,
            d => match d.parse::<f64>() {
                Ok(t) if t.is_finite() && t >= 0.0 => t,
                _ if matches!(d, "triggered" | "containerTriggered" | "split" | "now") => {
                    return Ok(Err(format!("depart={d:?} is not modelled")));
                }
                _ => return Err(at.err(el, format!("depart: expected a time in seconds, got {depart:?}"))),
            },
        };
        return Ok(Ok(Times::List(vec![t])));
    }
    let begin = at.num(el, "begin")?.unwrap_or(0.0);
    if begin < 0.0 {
        return Err(at.err(el, format!("begin must not be negative, got {begin}")));
    }
    let end = at.num(el, "end")?;
    let number = at.index(el, "number")?;
    let limit = number.map(|n| n as u64).unwrap_or(u64::MAX);
    let until = end.unwrap_or(DEFAULT_FLOW_END);
    if let Some(p) = at.num(el, "probability")? {
        if !(0.0..=1.0).contains(&p) {
            return Err(at.err(el, format!("probability must be between 0 and 1, got {p}")));
        }
        let mut v = Vec::new();
        let mut t = begin;
        while t < until && (v.len() as u64) < limit {
            if rng.unit() < p {
                v.push(t);
            }
            t += 1.0;
        }
        return Ok(Ok(Times::List(v)));
    }
    let period = match (el.get("period"), at.num(el, "vehsPerHour")?) {
        (Some(s), _) if s.trim_start().starts_with("exp(") => {
            let rate = s.trim().strip_prefix("exp(").and_then(|r| r.strip_suffix(')')).and_then(|r| r.trim().parse::<f64>().ok());
            let rate = rate
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(|| at.err(el, format!("period: expected exp(rate) with a positive rate, got {s:?}")))?;
            let mut v = Vec::new();
            let mut t = begin;
            loop {
                t += -(1.0 - rng.unit()).ln() / rate;
                if t >= until || v.len() as u64 >= limit {
                    break;
                }
                v.push(t);
            }
            return Ok(Ok(Times::List(v)));
        }
        (Some(_), _) => at.num(el, "period")?,
        (None, Some(v)) if v > 0.0 => Some(3600.0 / v),
        (None, Some(v)) => return Err(at.err(el, format!("vehsPerHour must be positive, got {v}"))),
        (None, None) => None,
    };
    let (interval, count) = match (period, number, end) {
        (Some(p), _, _) if p <= 0.0 => return Err(at.err(el, format!("period must be positive, got {p}"))),
        (Some(p), Some(n), _) => (p, n as u64),
        // Departures are strictly before `end`.
        (Some(p), None, _) => (p, ((until - begin) / p).ceil().max(0.0) as u64),
        (None, Some(n), Some(end)) if end > begin => ((end - begin) / n.max(1) as f64, n as u64),
        (None, Some(_), _) => return Err(at.err(el, "a flow with number needs period, vehsPerHour or an end after begin")),
        (None, None, _) => return Err(at.err(el, "a flow needs period, vehsPerHour, probability or number")),
    };
    if count == 0 {
        return Ok(Ok(Times::List(Vec::new())));
    }
    Ok(Ok(Times::Periodic { start: begin, interval, last: begin + (count - 1) as f64 * interval }))
}

/// Parse one SUMO route file against a built network (seed 0), dropping the report.
pub fn parse_routes(text: &str, net: &Network, file: &str) -> Result<Demand, ImportError> {
    parse_routes_with(&[(text, file)], net, 0).map(|(d, _)| d)
}

/// Parse SUMO route files, in order, against a built network: the demand and a report
/// of what was skipped or ignored. `seed` drives every random draw.
pub fn parse_routes_with(files: &[(&str, &str)], net: &Network, seed: u64) -> Result<(Demand, RouteReport), ImportError> {
    let mut r = RouteReader::new(net, seed);
    for (text, name) in files {
        r.add_file(text, name)?;
    }
    r.finish()
}

#[cfg(test)]
#[path = "sumo_demand_tests.rs"]
mod tests;
