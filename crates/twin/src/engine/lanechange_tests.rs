//! Lane changing on small hand-built networks.

use super::*;
use city::demand::{Demand, VehicleParams};
use city::spec::{LaneLinkSpec, LaneSpec, MovementSpec, PhaseSpec, Turn};
use city::testutil::corridor_spec;

/// A 3-lane corridor A -> B -> C, every lane of AB linked to every lane of BC, green
/// throughout, one vehicle every `interval` seconds from AB to BC (entry lane drawn).
fn three_lanes(interval: f64) -> Scenario {
    let mut spec = corridor_spec(vec![LaneSpec { width: 3.5, max_speed: 16.67 }; 3]);
    let links = (0..3).flat_map(|a| (0..3).map(move |b| LaneLinkSpec { from_lane: a, to_lane: b, points: vec![] })).collect();
    spec.intersections[1].movements = vec![MovementSpec { turn: Turn::Straight, from_road: 0, to_road: 1, lane_links: links }];
    spec.intersections[1].phases =
        vec![PhaseSpec { duration: 30.0, movements: vec![0] }, PhaseSpec { duration: 30.0, movements: vec![0] }];
    let network = Network::build(&spec).expect("builds");
    let flow = Flow {
        params: VehicleParams::default(),
        route: vec![RoadId(0), RoadId(1)],
        interval,
        start: 0.0,
        end: Some(1800.0),
        depart: Default::default(),
    };
    Scenario { network, demand: Demand { flows: vec![flow] } }
}

fn run_blocked(lane_change: bool, block: bool) -> Sim {
    let s = three_lanes(2.0);
    let mut sim = Sim::new(&s, SimConfig { lane_change, ..Default::default() });
    if block {
        // The middle lane of the first road, from 150 m, for the whole run.
        sim.block_lane(LaneId(1), 150.0, 10.0);
    }
    for _ in 0..1200 {
        sim.step();
        check_queues(&sim);
    }
    sim
}

fn check_queues(sim: &Sim) {
    for d in 0..sim.head.len() {
        let q: Vec<u32> = sim.queue(d).collect();
        assert_eq!(sim.qlen[d] as usize, q.len());
        assert_eq!(sim.tail[d], q.last().copied().unwrap_or(NONE));
    }
}

#[test]
fn traffic_flows_around_a_blocked_lane_with_lane_changing() {
    let free = run_blocked(true, false).metrics();
    let with = run_blocked(true, true);
    let without = run_blocked(false, true);
    let (w, wo) = (with.metrics(), without.metrics());
    eprintln!("free {free:?}\nwith {w:?}\nwithout {wo:?}\nchanges {}", with.lane_changes_completed());
    // Without lane changes a third of the vehicles are stuck behind the obstacle.
    assert!(wo.throughput < free.throughput * 8 / 10, "{wo:?} vs {free:?}");
    // With them, the other two lanes carry everyone.
    assert!(with.lane_changes_completed() > 50, "{}", with.lane_changes_completed());
    assert!(w.throughput >= free.throughput * 95 / 100, "{w:?} vs {free:?}");
    let queued = |sim: &Sim| sim.lane_vehicles(LaneId(1)).filter(|&(_, dis, speed, _)| dis <= 150.0 && speed < 0.1).count();
    assert!(queued(&with) <= 3, "nobody stays queued behind the obstacle: {}", queued(&with));
    assert!(queued(&without) > 10, "{}", queued(&without));
}

#[test]
fn lane_changing_off_takes_none_of_its_paths() {
    let s = crate::gen::generate(&crate::gen::GenConfig::demo()).unwrap().scenario();
    let mut a = Sim::new(&s, SimConfig::default());
    for _ in 0..900 {
        a.step();
    }
    assert!(a.lc.is_none());
    assert_eq!(a.lane_changes_completed(), 0);
}

#[test]
fn lane_changes_are_deterministic_and_shadows_are_consistent() {
    let s = crate::gen::generate(&crate::gen::GenConfig::demo()).unwrap().scenario();
    let cfg = SimConfig { lane_change: true, ..Default::default() };
    let mut a = Sim::new(&s, cfg);
    let mut b = Sim::new(&s, cfg);
    let mut seen_changing = false;
    for _ in 0..1800 {
        a.step();
        b.step();
        check_queues(&a);
        seen_changing |= a.lane_changes_in_progress() > 0;
        // Every changing vehicle has a shadow at the same distance in the target lane.
        let lc = a.lc.as_ref().unwrap();
        for v in 0..a.vs.len() {
            if a.vs[v].running && lc.v[v].changing {
                let p = lc.v[v].partner as usize;
                assert_eq!(lc.v[p].kind, 2);
                assert_eq!(lc.v[p].partner as usize, v);
                assert_eq!(a.vs[p].dis, a.vs[v].dis);
                assert_eq!(a.lc_road(p as u32), a.lc_road(v as u32));
            }
        }
    }
    assert_eq!(a.metrics(), b.metrics());
    assert!(seen_changing && a.lane_changes_completed() > 0);
}
