//! Virtual camera analytics: what the twin's junction cameras' video analytics would
//! report, drawn from the twin's ground truth at a configurable accuracy, with false
//! positives. Seeded, so a run is reproducible.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use twin::{IntersectionId, Network, Point, RoadId};

use crate::fusion::dist;
use crate::model::{IncidentType, Report, SourceKind};

/// Settings of the analytics.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraConfig {
    /// Probability that an incident in view is reported (once per incident).
    pub accuracy: f64,
    /// Probability that a reported incident gets the right type (else a random one).
    pub type_accuracy: f64,
    /// False reports per camera per hour.
    pub false_per_camera_hour: f64,
    /// A camera sees this far (metres) from its junction.
    pub range_m: f64,
    /// Seconds from the start of an incident to the analytics' report.
    pub delay_s: f64,
    pub seed: u64,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig { accuracy: 0.9, type_accuracy: 0.9, false_per_camera_hour: 0.05, range_m: 200.0, delay_s: 20.0, seed: 7 }
    }
}

/// Something that really happens in the twin, as the cameras could see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Truth {
    pub id: u64,
    pub kind: IncidentType,
    pub pos: Point,
    pub road: Option<RoadId>,
    pub start_s: f64,
    pub end_s: f64,
}

impl Truth {
    /// The ground truth of a twin incident plan (run seconds).
    pub fn from_plan(net: &Network, plan: &twin::incident::IncidentPlan) -> Vec<Truth> {
        plan.incidents
            .iter()
            .map(|i| {
                let (road, pos) = i.road_and_pos(net);
                let kind = match i.kind {
                    twin::IncidentKind::Crash => IncidentType::Collision,
                    twin::IncidentKind::Stalled => IncidentType::StalledVehicle,
                    twin::IncidentKind::IllegalParking => IncidentType::IllegalParking,
                    twin::IncidentKind::RoadWorks => IncidentType::RoadWorks,
                    twin::IncidentKind::SignalFailure => IncidentType::SignalFault,
                    twin::IncidentKind::Flood => IncidentType::Flooding,
                };
                let p = road.map_or(Point::new(0.0, 0.0), |r| crate::detect::point_on_road(net, r, pos));
                Truth { id: u64::from(i.id), kind, pos: p, road, start_s: i.start_s, end_s: i.end_s }
            })
            .collect()
    }
}

/// The cameras of the signalised junctions.
pub struct Cameras {
    cfg: CameraConfig,
    at: Vec<(IntersectionId, Point)>,
    rng: ChaCha8Rng,
    seen: std::collections::BTreeSet<u64>,
    last: Option<f64>,
}

impl Cameras {
    pub fn new(net: &Network, cfg: CameraConfig) -> Cameras {
        let at = (0..net.intersections.len())
            .map(|k| IntersectionId(k as u32))
            .filter(|&i| net.intersection(i).is_signalised())
            .map(|i| (i, net.intersection(i).point))
            .collect();
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        Cameras { cfg, at, rng, seen: Default::default(), last: None }
    }

    pub fn count(&self) -> usize {
        self.at.len()
    }

    /// Reports due at twin time `t` (call every step or tick; `t` increases).
    pub fn step(&mut self, net: &Network, t: f64, truth: &[Truth], out: &mut Vec<Report>) {
        let dt = self.last.map_or(0.0, |l| (t - l).max(0.0));
        self.last = Some(t);
        for x in truth {
            if self.seen.contains(&x.id) || t < x.start_s + self.cfg.delay_s || t > x.end_s {
                continue;
            }
            let Some(&(cam, _)) = self.at.iter().find(|(_, p)| dist(*p, x.pos) <= self.cfg.range_m) else {
                self.seen.insert(x.id);
                continue;
            };
            self.seen.insert(x.id);
            if !self.rng.gen_bool(self.cfg.accuracy.clamp(0.0, 1.0)) {
                continue;
            }
            let kind = if self.rng.gen_bool(self.cfg.type_accuracy.clamp(0.0, 1.0)) {
                x.kind
            } else {
                IncidentType::CAMERA[self.rng.gen_range(0..IncidentType::CAMERA.len())]
            };
            let c = 0.6 + 0.35 * self.rng.gen::<f64>();
            out.push(self.report(net, cam, t, kind, x.pos, x.road, c));
        }
        // False positives: a Poisson process per camera.
        let p = (self.cfg.false_per_camera_hour * dt / 3600.0).clamp(0.0, 1.0);
        for k in 0..self.at.len() {
            if p > 0.0 && self.rng.gen_bool(p) {
                let (cam, at) = self.at[k];
                let kind = IncidentType::CAMERA[self.rng.gen_range(0..IncidentType::CAMERA.len())];
                let ang = self.rng.gen::<f64>() * std::f64::consts::TAU;
                let r = self.rng.gen::<f64>() * self.cfg.range_m * 0.5;
                let pos = Point::new(at.x + r * ang.cos(), at.y + r * ang.sin());
                let road = crate::detect::match_road(net, pos, None).map(|x| x.0);
                let c = 0.3 + 0.4 * self.rng.gen::<f64>();
                out.push(self.report(net, cam, t, kind, pos, road, c));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        net: &Network,
        cam: IntersectionId,
        t: f64,
        kind: IncidentType,
        pos: Point,
        road: Option<RoadId>,
        c: f64,
    ) -> Report {
        let name = &net.intersection(cam).name;
        Report {
            time: t,
            kind,
            source: SourceKind::Camera,
            origin: format!("camera:{name}"),
            pos,
            road,
            confidence: c,
            reference: Some(format!("snapshot://camera/{name}/{:.0}.jpg", t)),
            text: format!("video analytics: {}, analytics confidence {c:.3}", kind.as_str()),
        }
    }
}
