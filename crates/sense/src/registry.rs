//! The sensor registry: every device the brain knows, where it is and who owns it, plus
//! the network name lookups validation needs.

use std::collections::HashMap;

use city::{Georef, IntersectionId, LaneId, MovementId, Network, Point, RoadId};

use crate::observation::RecordKind;

/// Dense index of a sensor in its [`SensorRegistry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SensorIdx(pub u32);

impl SensorIdx {
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// What kind of device a sensor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SensorKind {
    /// Inductive loop on one lane.
    Loop,
    /// Intersection camera (movement counts, queues, plate reads).
    Camera,
    /// Signal controller (ATSPM high-resolution events).
    Controller,
    /// A probe vehicle feed (e.g. a taxi company's GPS stream).
    Probe,
    /// A citizen report feed.
    Citizen,
}

impl SensorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SensorKind::Loop => "loop",
            SensorKind::Camera => "camera",
            SensorKind::Controller => "controller",
            SensorKind::Probe => "probe",
            SensorKind::Citizen => "citizen",
        }
    }

    /// The record kinds this kind of sensor may send.
    pub fn record_kinds(self) -> &'static [RecordKind] {
        match self {
            SensorKind::Loop => &[RecordKind::Loop],
            SensorKind::Camera => &[RecordKind::Movement, RecordKind::Queue, RecordKind::Plate],
            SensorKind::Controller => &[RecordKind::Signal],
            SensorKind::Probe => &[RecordKind::Probe],
            SensorKind::Citizen => &[RecordKind::Report],
        }
    }
}

/// Where a sensor is. Feeds (probe, citizen) cover the whole city and have no fixed place.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    /// Human-readable place: road name, `road:lane`, intersection name, or `city`.
    pub label: String,
    pub road: Option<RoadId>,
    pub lane: Option<LaneId>,
    pub intersection: Option<IntersectionId>,
    pub point: Option<Point>,
}

/// One registered device.
#[derive(Clone, Debug, PartialEq)]
pub struct Sensor {
    /// Stable external id, e.g. `loop:road_1_0_1:0`, `camera:intersection_1_1`.
    pub id: String,
    pub kind: SensorKind,
    pub location: Location,
    /// Owning department, e.g. `traffic-police`, `transport-bureau`, `taxi-company`.
    pub owner: String,
}

/// Default margin around the network's bounding box within which a lon/lat position
/// is accepted, metres.
pub const DEFAULT_GEO_MARGIN_M: f64 = 2000.0;

/// The area where lon/lat positions are accepted: the network's georeference and its
/// bounding box in network metres, grown by a margin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoArea {
    pub georef: Georef,
    /// `(min, max)` corners in network metres; `None` for an empty network.
    pub bounds: Option<(Point, Point)>,
    pub margin_m: f64,
}

impl GeoArea {
    pub fn for_network(net: &Network) -> GeoArea {
        GeoArea { georef: net.georef, bounds: net.bounds(), margin_m: DEFAULT_GEO_MARGIN_M }
    }

    /// Network metres of `(lon, lat)`, or a message saying why the position is not in
    /// the area (with the area's lon/lat extent).
    pub fn locate(&self, lon: f64, lat: f64) -> Result<Point, String> {
        let p = self.georef.to_local(lon, lat);
        let Some((lo, hi)) = self.bounds else { return Ok(p) };
        let m = self.margin_m;
        if p.x.is_finite() && p.y.is_finite() && p.x >= lo.x - m && p.x <= hi.x + m && p.y >= lo.y - m && p.y <= hi.y + m {
            return Ok(p);
        }
        let (w, s) = self.georef.to_lonlat(Point::new(lo.x - m, lo.y - m));
        let (e, n) = self.georef.to_lonlat(Point::new(hi.x + m, hi.y + m));
        Err(format!(
            "position ({lon}, {lat}) is outside the network's area (lon {w:.5}..{e:.5}, lat {s:.5}..{n:.5}: its bounds plus {m} m)"
        ))
    }
}

/// Per signalised intersection: NEMA phases and detector channels (1-based).
#[derive(Clone, Debug, Default)]
struct ControllerInfo {
    /// NEMA phase numbers ([`city::signal::Nema`]).
    phases: Vec<u8>,
    /// The approach lanes: presence channel `c` (1-based) is on `detectors[c - 1]`,
    /// advance channel `n + c` on the same lane ([`city::signal::detectors`]).
    detectors: Vec<LaneId>,
}

/// A map keyed by sensor ids (and their store keys). The standard hasher, randomly keyed:
/// a faster fixed hash (Fx) measured within the noise of the ingest benchmark, and ids can
/// reach the store from outside, where crafted collisions must not cost anything.
pub type IdMap<V> = HashMap<String, V>;

/// All sensors, addressable by [`SensorIdx`] and by external id, plus name lookups.
#[derive(Clone, Debug)]
pub struct SensorRegistry {
    sensors: Vec<Sensor>,
    by_id: IdMap<SensorIdx>,
    loops: Vec<Option<SensorIdx>>,
    cameras: Vec<Option<SensorIdx>>,
    controllers: Vec<Option<SensorIdx>>,
    controller_info: Vec<ControllerInfo>,
    /// Lane -> (intersection, 1-based detector channel) for lanes ending at a controller.
    channels: Vec<Option<(IntersectionId, u32)>>,
    probe_feed: Option<SensorIdx>,
    citizen_feed: Option<SensorIdx>,
    road_names: Vec<String>,
    road_index: HashMap<String, RoadId>,
    road_to: Vec<IntersectionId>,
    movements: HashMap<(RoadId, RoadId), MovementId>,
    movement_roads: Vec<(RoadId, RoadId)>,
    lane_road: Vec<RoadId>,
    geo: GeoArea,
}

/// Owners used by [`SensorRegistry::for_network`].
pub mod owners {
    pub const LOOPS: &str = "transport-bureau";
    pub const CAMERAS: &str = "traffic-police";
    pub const CONTROLLERS: &str = "traffic-police";
    pub const PROBES: &str = "taxi-company";
    pub const CITIZENS: &str = "city-hotline";
}

/// Id of the probe feed created by [`SensorRegistry::for_network`].
pub const PROBE_FEED_ID: &str = "probe:taxi";
/// Id of the citizen report feed created by [`SensorRegistry::for_network`].
pub const CITIZEN_FEED_ID: &str = "citizen:12345";

impl SensorRegistry {
    /// An empty registry over `net` (name lookups only); add sensors with [`Self::add`].
    pub fn empty(net: &Network) -> SensorRegistry {
        let mut movements = HashMap::new();
        for (m, mv) in net.movements.iter().enumerate() {
            movements.insert((mv.from_road, mv.to_road), MovementId(m as u32));
        }
        SensorRegistry {
            sensors: Vec::new(),
            by_id: IdMap::default(),
            loops: vec![None; net.lanes.len()],
            cameras: vec![None; net.intersections.len()],
            controllers: vec![None; net.intersections.len()],
            controller_info: vec![ControllerInfo::default(); net.intersections.len()],
            channels: vec![None; net.lanes.len()],
            probe_feed: None,
            citizen_feed: None,
            road_names: net.roads.iter().map(|r| r.name.clone()).collect(),
            road_index: net.roads.iter().enumerate().map(|(i, r)| (r.name.clone(), RoadId(i as u32))).collect(),
            road_to: net.roads.iter().map(|r| r.to).collect(),
            movements,
            movement_roads: net.movements.iter().map(|m| (m.from_road, m.to_road)).collect(),
            lane_road: net.lanes.iter().map(|l| l.road).collect(),
            geo: GeoArea::for_network(net),
        }
    }

    /// The standard deployment: one loop per lane, a camera and a controller per
    /// signalised intersection, one probe feed and one citizen-report feed.
    pub fn for_network(net: &Network) -> SensorRegistry {
        let mut reg = SensorRegistry::empty(net);
        for (l, lane) in net.lanes.iter().enumerate() {
            let road = net.road(lane.road);
            let label = format!("{}:{}", road.name, lane.index);
            let point = lane.points.first().copied();
            let loc =
                Location { label: label.clone(), road: Some(lane.road), lane: Some(LaneId(l as u32)), intersection: None, point };
            reg.add(Sensor { id: format!("loop:{label}"), kind: SensorKind::Loop, location: loc, owner: owners::LOOPS.into() })
                .expect("lane names are unique");
        }
        for (i, inter) in net.intersections.iter().enumerate() {
            if !inter.is_signalised() || inter.is_virtual {
                continue;
            }
            let loc = Location {
                label: inter.name.clone(),
                road: None,
                lane: None,
                intersection: Some(IntersectionId(i as u32)),
                point: Some(inter.point),
            };
            let cam = Sensor {
                id: format!("camera:{}", inter.name),
                kind: SensorKind::Camera,
                location: loc.clone(),
                owner: owners::CAMERAS.into(),
            };
            reg.add(cam).expect("intersection names are unique");
            let ctl = Sensor {
                id: format!("controller:{}", inter.name),
                kind: SensorKind::Controller,
                location: loc,
                owner: owners::CONTROLLERS.into(),
            };
            reg.add(ctl).expect("intersection names are unique");
        }
        let city = Location { label: "city".into(), road: None, lane: None, intersection: None, point: None };
        let probe =
            Sensor { id: PROBE_FEED_ID.into(), kind: SensorKind::Probe, location: city.clone(), owner: owners::PROBES.into() };
        reg.add(probe).expect("unique");
        let cit =
            Sensor { id: CITIZEN_FEED_ID.into(), kind: SensorKind::Citizen, location: city, owner: owners::CITIZENS.into() };
        reg.add(cit).expect("unique");
        // Detector channels: approach lanes of each controlled intersection, in road order.
        for (i, inter) in net.intersections.iter().enumerate() {
            if reg.controllers[i].is_none() {
                continue;
            }
            let info = &mut reg.controller_info[i];
            info.phases = city::signal::Nema::of(net, IntersectionId(i as u32)).phases.iter().map(|p| p.phase).collect();
            for &r in &inter.roads {
                if net.road(r).to.idx() != i {
                    continue;
                }
                for l in net.road(r).lanes() {
                    info.detectors.push(l);
                    reg.channels[l.idx()] = Some((IntersectionId(i as u32), info.detectors.len() as u32));
                }
            }
        }
        reg
    }

    /// Register a sensor. Fails (returning the existing index) when the id is taken.
    pub fn add(&mut self, s: Sensor) -> Result<SensorIdx, SensorIdx> {
        if let Some(&i) = self.by_id.get(&s.id) {
            return Err(i);
        }
        let idx = SensorIdx(self.sensors.len() as u32);
        match s.kind {
            SensorKind::Loop => {
                if let Some(l) = s.location.lane.and_then(|l| self.loops.get_mut(l.idx())) {
                    *l = Some(idx);
                }
            }
            SensorKind::Camera => {
                if let Some(c) = s.location.intersection.and_then(|i| self.cameras.get_mut(i.idx())) {
                    *c = Some(idx);
                }
            }
            SensorKind::Controller => {
                if let Some(c) = s.location.intersection.and_then(|i| self.controllers.get_mut(i.idx())) {
                    *c = Some(idx);
                }
            }
            SensorKind::Probe => self.probe_feed = self.probe_feed.or(Some(idx)),
            SensorKind::Citizen => self.citizen_feed = self.citizen_feed.or(Some(idx)),
        }
        self.by_id.insert(s.id.clone(), idx);
        self.sensors.push(s);
        Ok(idx)
    }

    pub fn len(&self) -> usize {
        self.sensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sensors.is_empty()
    }

    pub fn get(&self, idx: SensorIdx) -> Option<&Sensor> {
        self.sensors.get(idx.idx())
    }

    /// Look a sensor up by its external id.
    pub fn lookup(&self, id: &str) -> Option<SensorIdx> {
        self.by_id.get(id).copied()
    }

    pub fn sensors(&self) -> impl Iterator<Item = (SensorIdx, &Sensor)> {
        self.sensors.iter().enumerate().map(|(i, s)| (SensorIdx(i as u32), s))
    }

    pub fn loop_sensor(&self, lane: LaneId) -> Option<SensorIdx> {
        self.loops.get(lane.idx()).copied().flatten()
    }

    pub fn camera(&self, i: IntersectionId) -> Option<SensorIdx> {
        self.cameras.get(i.idx()).copied().flatten()
    }

    pub fn controller(&self, i: IntersectionId) -> Option<SensorIdx> {
        self.controllers.get(i.idx()).copied().flatten()
    }

    pub fn probe_feed(&self) -> Option<SensorIdx> {
        self.probe_feed
    }

    pub fn citizen_feed(&self) -> Option<SensorIdx> {
        self.citizen_feed
    }

    /// The controller and 1-based channel of a lane's stop-bar presence detector.
    pub fn detector_channel(&self, lane: LaneId) -> Option<(IntersectionId, u32)> {
        self.channels.get(lane.idx()).copied().flatten()
    }

    /// The lane behind detector channel `channel` (1-based: the stop-bar presence
    /// detectors, then the advance detectors of the same lanes) of intersection `i`.
    pub fn detector_lane(&self, i: IntersectionId, channel: u32) -> Option<LaneId> {
        let info = self.controller_info.get(i.idx())?;
        let n = info.detectors.len();
        let c = (channel as usize).checked_sub(1)?;
        if c >= 2 * n {
            return None;
        }
        info.detectors.get(c % n).copied()
    }

    /// Whether `phase` is a NEMA phase of the controller of `i`.
    pub fn has_phase(&self, i: IntersectionId, phase: u32) -> bool {
        self.controller_info.get(i.idx()).is_some_and(|c| c.phases.iter().any(|&p| u32::from(p) == phase))
    }

    /// The NEMA phases of the controller of `i`, by number.
    pub fn phases(&self, i: IntersectionId) -> &[u8] {
        self.controller_info.get(i.idx()).map_or(&[], |c| &c.phases)
    }

    pub fn road_by_name(&self, name: &str) -> Option<RoadId> {
        self.road_index.get(name).copied()
    }

    pub fn road_name(&self, r: RoadId) -> &str {
        self.road_names.get(r.idx()).map_or("", |s| s.as_str())
    }

    /// The intersection a road leads to.
    pub fn road_to(&self, r: RoadId) -> Option<IntersectionId> {
        self.road_to.get(r.idx()).copied()
    }

    pub fn lane_road(&self, l: LaneId) -> Option<RoadId> {
        self.lane_road.get(l.idx()).copied()
    }

    pub fn movement(&self, from: RoadId, to: RoadId) -> Option<MovementId> {
        self.movements.get(&(from, to)).copied()
    }

    pub fn movement_roads(&self, m: MovementId) -> Option<(RoadId, RoadId)> {
        self.movement_roads.get(m.idx()).copied()
    }

    /// The lon/lat area: the network's georeference, bounds and margin.
    pub fn geo(&self) -> &GeoArea {
        &self.geo
    }

    /// Replace the georeference (e.g. a network re-anchored by `--origin`).
    pub fn set_georef(&mut self, georef: Georef) {
        self.geo.georef = georef;
    }

    /// Set the margin around the network's bounds within which lon/lat is accepted.
    pub fn set_geo_margin(&mut self, margin_m: f64) {
        self.geo.margin_m = margin_m;
    }
}
