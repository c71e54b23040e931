use std::sync::{Arc, Mutex};

use city::{IntersectionId, LaneId, MovementId, Point, RoadId};
use sense::testnet::{corridor, LIMIT};
use sense::*;

use super::*;

const AB: RoadId = RoadId(0);
const BC: RoadId = RoadId(1);
const CB: RoadId = RoadId(2);
const BA: RoadId = RoadId(3);
const B: IntersectionId = IntersectionId(1);

fn est() -> StateEstimator {
    StateEstimator::new(&corridor(), StateConfig::default())
}

fn obs(time: f64, data: ObsData) -> Observation {
    Observation { sensor: SensorIdx(0), time, data }
}

fn loop_obs(lane: u32, road: RoadId, time: f64, count: u32, occupancy: f64, speed: Option<f64>) -> Observation {
    obs(time, ObsData::Loop(LoopAggregate { lane: LaneId(lane), road, start: time - 30.0, end: time, count, occupancy, speed }))
}

/// A probe on road `road` of the corridor (lanes run 2 m right of the centre line).
fn probe(road: RoadId, time: f64, speed: f64) -> Observation {
    let (pos, heading) = match road {
        AB => (Point::new(150.0, -1.0), 0.0),
        BA => (Point::new(150.0, 1.0), std::f64::consts::PI),
        BC => (Point::new(450.0, -1.0), 0.0),
        _ => (Point::new(450.0, 1.0), std::f64::consts::PI),
    };
    obs(time, ObsData::Probe(ProbeFix { token: "0".repeat(24), pos, speed, heading }))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn road_speed_fuses_loops_and_probes_by_count_and_recency() {
    let mut e = est();
    e.observe(&loop_obs(0, AB, 100.0, 10, 0.1, Some(10.0)));
    e.observe(&loop_obs(1, AB, 100.0, 5, 0.1, Some(4.0)));
    e.observe(&probe(AB, 100.0, 2.0));
    let s = e.update(100.0).roads[AB.idx()].clone();
    // (10 * 10 + 5 * 4 + 1 * 2) / (10 + 5 + 1)
    assert!(close(s.speed.unwrap(), 122.0 / 16.0), "{s:?}");
    assert!(close(s.tti.unwrap(), LIMIT / (122.0 / 16.0)));
    assert_eq!(s.grade, Some(Grade::Slow), "7.6 m/s is between 20 and 30 km/h");
    assert_eq!(s.class, RoadClass::Arterial);
    assert!(close(s.flow_vph.unwrap(), 10.0 * 120.0 + 5.0 * 120.0));
    assert_eq!((s.loop_vehicles, s.probe_fixes), (15, 1));
    // Equal ages decay equally: the estimate does not drift without news.
    assert!(close(e.update(220.0).roads[AB.idx()].speed.unwrap(), 122.0 / 16.0));
    // A fresh probe at 220 outweighs its count: old weights decay by e^-1.
    e.observe(&probe(AB, 220.0, 12.0));
    let k = (-1.0f64).exp();
    let want = (122.0 * k + 12.0) / (16.0 * k + 1.0);
    assert!(close(e.update(220.0).roads[AB.idx()].speed.unwrap(), want));
    // Past the 300 s horizon only the later probe remains.
    let s = e.update(450.0).roads[AB.idx()].clone();
    assert!(close(s.speed.unwrap(), 12.0));
    assert_eq!(s.grade, Some(Grade::Free));
    assert_eq!(s.flow_vph, None, "loop interval ended before the horizon");
    // Roads without evidence have no estimate.
    assert_eq!(e.latest().unwrap().roads[CB.idx()].speed, None);
}

#[test]
fn a_silent_occupied_loop_is_a_standing_queue() {
    let mut e = est();
    e.observe(&loop_obs(2, BC, 60.0, 0, 0.8, None));
    e.observe(&loop_obs(3, CB, 60.0, 0, 0.05, None));
    let st = e.update(60.0);
    let bc = &st.roads[BC.idx()];
    assert_eq!(bc.speed, Some(0.0));
    assert_eq!(bc.tti, Some(10.0));
    assert_eq!(bc.grade, Some(Grade::Congested));
    assert_eq!(bc.flow_vph, Some(0.0));
    assert_eq!(st.roads[CB.idx()].speed, None, "an empty, unoccupied loop says nothing about speed");
}

#[test]
fn probes_match_by_position_and_heading() {
    let e = est();
    assert_eq!(e.match_probe(Point::new(150.0, -1.0), 0.0), Some(AB));
    assert_eq!(e.match_probe(Point::new(150.0, -1.0), std::f64::consts::PI), Some(BA));
    assert_eq!(e.match_probe(Point::new(150.0, 1.0), 0.0), Some(AB), "nearest lane in the right direction");
    assert_eq!(e.match_probe(Point::new(450.0, 5.0), 3.1), Some(CB));
    assert_eq!(e.match_probe(Point::new(150.0, 100.0), 0.0), None, "too far");
    assert_eq!(e.match_probe(Point::new(150.0, -1.0), std::f64::consts::FRAC_PI_2), None, "crossing heading");
    let mut e = est();
    e.observe(&obs(
        5.0,
        ObsData::Probe(ProbeFix { token: "a".repeat(24), pos: Point::new(0.0, 500.0), speed: 3.0, heading: 0.0 }),
    ));
    assert_eq!(e.unmatched_probes(), 1);
}

#[test]
fn districts_and_city_indices() {
    let mut e = est();
    // Probes only: no loop flow, so every metre weighs the same.
    e.observe(&probe(AB, 10.0, 12.0)); // free
    e.observe(&probe(BA, 10.0, 3.0)); // congested (< 20 km/h)
    e.observe(&probe(BC, 10.0, 7.0)); // slow
    let st = e.update(10.0).clone();
    assert_eq!(st.areas.len(), 4);
    let names: Vec<&str> = st.areas.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["district-1", "district-2", "district-3", "district-4"]);
    let (d1, d2) = (&st.areas[0], &st.areas[1]);
    assert_eq!((d1.roads_covered, d1.roads_total), (2, 2));
    assert_eq!((d2.roads_covered, d2.roads_total), (1, 2));
    // District 1: AB (TTI L/12) and BA (TTI L/3), 300 m each.
    assert!(close(d1.delay_index.unwrap(), (LIMIT / 12.0 + LIMIT / 3.0) / 2.0));
    assert!(close(d1.mean_speed.unwrap(), 600.0 / (300.0 / 12.0 + 300.0 / 3.0)));
    assert!(close(d1.congested_share, 0.5));
    assert_eq!((d1.tpi, d1.tpi_grade), (10.0, TpiGrade::SeverelyCongested));
    assert!(close(d2.delay_index.unwrap(), LIMIT / 7.0));
    assert_eq!((d2.congested_share, d2.tpi, d2.tpi_grade), (0.0, 0.0, TpiGrade::Smooth));
    assert_eq!(st.areas[2].delay_index, None);
    assert!(close(st.city.delay_index.unwrap(), (LIMIT / 12.0 + LIMIT / 3.0 + LIMIT / 7.0) / 3.0));
    assert!(close(st.city.congested_share, 1.0 / 3.0));
    assert_eq!((st.city.roads_covered, st.city.roads_total), (3, 4));
}

#[test]
fn tpi_mapping_follows_the_breakpoints() {
    let bp = StateConfig::default().tpi_breakpoints;
    for (share, want) in
        [(0.0, 0.0), (0.02, 1.0), (0.04, 2.0), (0.06, 3.0), (0.095, 5.0), (0.125, 7.0), (0.19, 9.0), (0.24, 10.0), (0.9, 10.0)]
    {
        assert!((tpi_from_share(share, &bp) - want).abs() < 1e-9, "{share} -> {} want {want}", tpi_from_share(share, &bp));
    }
    assert_eq!(tpi_from_share(f64::NAN, &bp), 0.0);
    let grades: Vec<TpiGrade> = [1.0, 2.0, 5.9, 6.0, 9.9].iter().map(|&t| TpiGrade::of(t)).collect();
    use TpiGrade::*;
    assert_eq!(grades, [Smooth, BasicallySmooth, LightlyCongested, ModeratelyCongested, SeverelyCongested]);
}

#[test]
fn intersection_delay_by_littles_law() {
    let mut e = est();
    let queue = |t: f64, road: RoadId, queue_m: f64, waiting: u32| {
        obs(t, ObsData::Queue(QueueReading { intersection: B, road, queue_m, waiting }))
    };
    let moves = |m: u32, from: RoadId, to: RoadId, count: u32| {
        obs(
            90.0,
            ObsData::Movement(MovementCount {
                intersection: B,
                movement: MovementId(m),
                from_road: from,
                to_road: to,
                start: 30.0,
                end: 90.0,
                count,
            }),
        )
    };
    e.observe_all(&[
        queue(60.0, AB, 30.0, 4),
        queue(90.0, AB, 45.0, 6),
        queue(90.0, CB, 12.0, 2),
        moves(0, AB, BC, 30),
        moves(1, CB, BA, 12),
    ]);
    let st = e.update(90.0);
    assert_eq!(st.intersections.len(), 1);
    let i = &st.intersections[0];
    assert_eq!((i.intersection, i.queue_m, i.waiting), (B, 45.0, 8));
    // L = mean(4, 6) + 2 = 7 vehicles; throughput = 42 / 60 s = 0.7 veh/s; delay = 10 s.
    assert!(close(i.throughput_vps.unwrap(), 0.7));
    assert!(close(i.delay_s.unwrap(), 10.0));
}

#[test]
fn congested_share_is_weighted_by_class_vkt() {
    // Only 2-lane roads are arterial here: AB is arterial, the others local.
    let cfg = StateConfig { arterial_min_limit: 100.0, arterial_min_lanes: 2, ..Default::default() };
    let mut e = StateEstimator::new(&corridor(), cfg);
    e.observe(&loop_obs(0, AB, 30.0, 20, 0.2, Some(12.0))); // 2400 veh/h, free
    e.observe(&loop_obs(4, BA, 30.0, 1, 0.9, Some(1.0))); // 120 veh/h, congested
    let st = e.update(30.0);
    assert_eq!((st.roads[AB.idx()].class, st.roads[BA.idx()].class), (RoadClass::Arterial, RoadClass::Local));
    // Weights per metre: arterial 2400, local 120 -> share = 120 / (2400 + 120).
    let share = 120.0 / 2520.0;
    assert!(close(st.city.congested_share, share), "{}", st.city.congested_share);
    assert!(close(st.city.tpi, 2.0 + (share - 0.04) / 0.04 * 2.0));
    assert_eq!(st.city.tpi_grade, TpiGrade::BasicallySmooth);
}

/// End to end: the twin's virtual sensors through the pipeline into the estimator.
#[test]
fn twin_feed_produces_plausible_state() {
    use city::{Demand, Flow, Scenario, VehicleParams};
    use twin::sensors::{SensorConfig, VirtualSensors};
    use twin::wire::from_reading;
    use twin::{Sim, SimConfig};
    let net = corridor();
    let flow = |route: Vec<RoadId>, interval| Flow {
        params: VehicleParams::default(),
        route,
        interval,
        start: 0.0,
        end: None,
        depart: Default::default(),
    };
    let scenario =
        Scenario { network: net.clone(), demand: Demand { flows: vec![flow(vec![AB, BC], 2.0), flow(vec![CB, BA], 6.0)] } };
    let mut sim = Sim::new(&scenario, SimConfig { record_events: true, ..Default::default() });
    let mut vs = VirtualSensors::new(&sim, SensorConfig { probe_share: 0.3, ..Default::default() });
    let registry = Arc::new(SensorRegistry::for_network(&net));
    let mut p = Pipeline::new(registry.clone(), PipelineConfig::default());
    let estimator = Arc::new(Mutex::new(StateEstimator::new(&net, StateConfig::default())));
    p.add_sink(Box::new(estimator.clone()));
    let mut readings = Vec::new();
    for _ in 0..900 {
        sim.step();
        readings.clear();
        vs.observe(&sim, &mut readings);
        let recs: Vec<RawRecord> = readings.iter().filter_map(|r| from_reading(r, &registry, 0.0)).map(Into::into).collect();
        assert_eq!(p.ingest(&recs, sim.time()).rejected, 0);
    }
    let mut e = estimator.lock().unwrap();
    let st = e.update(sim.time()).clone();
    for r in &st.roads {
        let v = r.speed.expect("every corridor road carries traffic");
        assert!((0.0..=LIMIT + 1.0).contains(&v), "{r:?}");
    }
    // Upstream of the signal traffic queues; downstream it runs at the limit.
    assert!(st.roads[AB.idx()].speed < st.roads[BC.idx()].speed, "{:?}", st.roads);
    assert!(st.roads[AB.idx()].flow_vph.unwrap() > 0.0);
    assert!(st.city.delay_index.unwrap() >= 1.0);
    assert!((0.0..=10.0).contains(&st.city.tpi));
    let i = &st.intersections[0];
    assert!(i.throughput_vps.unwrap() > 0.0 && i.delay_s.is_some(), "{i:?}");
    assert!(e.unmatched_probes() < 50, "{}", e.unmatched_probes());
}

mod props {
    use proptest::prelude::*;

    use super::*;

    fn arb_obs() -> impl Strategy<Value = Observation> {
        prop_oneof![
            (0u32..5, 0.0..300.0f64, 0u32..30, 0.0..=1.0f64, 0.0..20.0f64).prop_map(|(lane, t, count, occ, v)| {
                let road = if lane < 2 { AB } else { RoadId(lane - 1) };
                loop_obs(lane, road, t, count, occ, (count > 0).then_some(v))
            }),
            (0usize..4, 0.0..300.0f64, 0.0..20.0f64).prop_map(|(r, t, v)| probe(RoadId(r as u32), t, v)),
        ]
    }

    proptest! {
        #[test]
        fn snapshots_respect_the_invariants(obs in proptest::collection::vec(arb_obs(), 0..60), rot in 0usize..60) {
            let mut e = est();
            e.observe_all(&obs);
            let a = e.update(300.0).clone();
            for r in &a.roads {
                let speeds: Vec<f64> = obs.iter().filter_map(|o| match &o.data {
                    ObsData::Loop(l) if l.road == r.road => Some(if l.count > 0 { l.speed.unwrap() } else { 0.0 }),
                    ObsData::Probe(p) if e.match_probe(p.pos, p.heading) == Some(r.road) => Some(p.speed),
                    _ => None,
                }).collect();
                if let Some(v) = r.speed {
                    let lo = speeds.iter().cloned().fold(f64::INFINITY, f64::min);
                    let hi = speeds.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    prop_assert!(v >= lo - 1e-9 && v <= hi + 1e-9, "{v} not in {lo}..{hi}");
                    let tti = r.tti.unwrap();
                    prop_assert!((1.0 - 1e-9..=10.0).contains(&tti) || v > LIMIT, "{tti}");
                }
            }
            for area in a.areas.iter().chain([&a.city]) {
                prop_assert!((0.0..=10.0).contains(&area.tpi));
                prop_assert!((0.0..=1.0).contains(&area.congested_share));
            }
            // Order of arrival does not matter.
            let mut shuffled = obs.clone();
            if !shuffled.is_empty() {
                let k = rot % shuffled.len();
                shuffled.rotate_left(k);
            }
            let mut e2 = est();
            e2.observe_all(&shuffled);
            let b = e2.update(300.0).clone();
            for (x, y) in a.roads.iter().zip(&b.roads) {
                match (x.speed, y.speed) {
                    (Some(p), Some(q)) => prop_assert!((p - q).abs() < 1e-9),
                    (p, q) => prop_assert_eq!(p, q),
                }
            }
        }
    }
}
