//! The adapter from the twin's virtual-sensor [`Reading`]s to `sense`'s wire records:
//! the twin's readings enter the brain through the same wire format, validation and
//! pipeline as a real device's records (one ingestion path).

use sense::{SensorRegistry, WireRecord};

use crate::sensors::Reading;

/// The wire record a real device would send for a twin virtual-sensor reading. Times are
/// shifted by `day_start`, the Unix time (seconds, UTC) of the twin's time 0, so the
/// records carry absolute time. Returns `None`
/// for readings no registered device would report (e.g. an event of an intersection
/// without a registered controller).
pub fn from_reading(reading: &Reading, reg: &SensorRegistry, day_start: f64) -> Option<WireRecord> {
    let id = |s| reg.get(s).map(|s| s.id.clone());
    let mut w = WireRecord::default();
    match reading {
        Reading::Loop { lane, start, end, count, occupancy, mean_speed } => {
            w.sensor = id(reg.loop_sensor(*lane)?);
            w.kind = Some("loop".into());
            w.time = Some(end + day_start);
            (w.start, w.end, w.count) = (Some(start + day_start), Some(end + day_start), Some(*count as f64));
            (w.occupancy, w.speed) = (Some(*occupancy), *mean_speed);
        }
        Reading::DetectorEvent { intersection, channel, time, code } => {
            w.sensor = id(reg.controller(*intersection)?);
            w.kind = Some("signal".into());
            w.time = Some(time + day_start);
            (w.code, w.param) = (Some(*code as f64), Some(*channel as f64));
        }
        Reading::SignalEvent { intersection, time, code, param } => {
            w.sensor = id(reg.controller(*intersection)?);
            w.kind = Some("signal".into());
            w.time = Some(time + day_start);
            (w.code, w.param) = (Some(*code as f64), Some(*param as f64));
        }
        Reading::MovementCount { intersection, movement, start, end, count } => {
            let (from, to) = reg.movement_roads(*movement)?;
            w.sensor = id(reg.camera(*intersection)?);
            w.kind = Some("movement".into());
            w.time = Some(end + day_start);
            w.from = Some(reg.road_name(from).into());
            w.to = Some(reg.road_name(to).into());
            (w.start, w.end, w.count) = (Some(start + day_start), Some(end + day_start), Some(*count as f64));
        }
        Reading::Queue { intersection, road, time, queue_m, waiting } => {
            w.sensor = id(reg.camera(*intersection)?);
            w.kind = Some("queue".into());
            w.time = Some(time + day_start);
            w.road = Some(reg.road_name(*road).into());
            (w.queue_m, w.waiting) = (Some(*queue_m), Some(*waiting as f64));
        }
        Reading::Plate { intersection, road, time, token } => {
            w.sensor = id(reg.camera(*intersection)?);
            w.kind = Some("plate".into());
            w.time = Some(time + day_start);
            w.road = Some(reg.road_name(*road).into());
            w.token = Some(token.clone());
        }
        Reading::Probe { token, time, pos, speed, heading } => {
            w.sensor = id(reg.probe_feed()?);
            w.kind = Some("probe".into());
            w.time = Some(time + day_start);
            w.token = Some(token.clone());
            (w.x, w.y, w.speed, w.heading) = (Some(pos.x), Some(pos.y), Some(*speed), Some(*heading));
        }
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use sense::testnet::corridor;
    use sense::{CollectSink, ObsData, Pipeline, PipelineConfig, RawRecord, RecordKind};

    use super::*;
    use crate::sensors::{SensorConfig, VirtualSensors};
    use crate::{Demand, Flow, RoadId, Scenario, Sim, SimConfig, VehicleParams};

    /// Every reading of the twin's virtual sensors becomes a wire record that validates.
    #[test]
    fn twin_readings_flow_through_the_same_pipeline() {
        let net = corridor();
        let flow = |route: Vec<RoadId>| Flow {
            params: VehicleParams::default(),
            route,
            interval: 3.0,
            start: 0.0,
            end: Some(500.0),
            depart: Default::default(),
        };
        let scenario = Scenario {
            network: net.clone(),
            demand: Demand { flows: vec![flow(vec![RoadId(0), RoadId(1)]), flow(vec![RoadId(2), RoadId(3)])] },
        };
        let mut sim = Sim::new(&scenario, SimConfig { record_events: true, ..Default::default() });
        let mut vs = VirtualSensors::new(&sim, SensorConfig { probe_share: 0.5, ..Default::default() });
        let registry = Arc::new(SensorRegistry::for_network(&net));
        let mut p = Pipeline::new(registry.clone(), PipelineConfig::default());
        let sink = Arc::new(Mutex::new(CollectSink::default()));
        p.add_sink(Box::new(sink.clone()));
        let mut readings = Vec::new();
        let mut converted = 0;
        for _ in 0..400 {
            sim.step();
            readings.clear();
            vs.observe(&sim, &mut readings);
            let recs: Vec<RawRecord> =
                readings.iter().filter_map(|r| from_reading(r, &registry, 86_400.0)).map(Into::into).collect();
            converted += recs.len();
            let rep = p.ingest(&recs, sim.time() + 86_400.0);
            assert_eq!(rep.rejected, 0, "{:?}", rep.results.iter().find(|r| r.1.is_err()));
        }
        let got = sink.lock().unwrap();
        assert_eq!(got.0.len(), converted);
        let has = |k: RecordKind| got.0.iter().any(|o| o.data.kind() == k);
        for k in
            [RecordKind::Loop, RecordKind::Movement, RecordKind::Queue, RecordKind::Plate, RecordKind::Probe, RecordKind::Signal]
        {
            assert!(has(k), "no {k:?}");
        }
        let codes: std::collections::BTreeSet<u16> =
            got.0.iter().filter_map(|o| if let ObsData::Signal(s) = &o.data { Some(s.code.code()) } else { None }).collect();
        assert_eq!(codes.into_iter().collect::<Vec<_>>(), vec![1, 6, 7, 8, 9, 10, 11, 43, 44, 81, 82, 131, 132]);
        assert!(got.0.iter().all(|o| o.time >= 86_400.0));
    }
}
