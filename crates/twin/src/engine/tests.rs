//! Engine behaviour on small hand-built networks.

use super::*;
use city::testutil::corridor;

fn run(s: &Scenario, cfg: SimConfig, steps: u64) -> Sim {
    let mut sim = Sim::new(s, cfg);
    for _ in 0..steps {
        sim.step();
        check_no_overlap(&sim);
    }
    sim
}

fn check_no_overlap(sim: &Sim) {
    for d in 0..sim.head.len() {
        let q: Vec<u32> = sim.queue(d).collect();
        assert_eq!(sim.head[d], q.first().copied().unwrap_or(NONE), "head of drivable {d} at step {}", sim.step);
        assert_eq!(sim.tail[d], q.last().copied().unwrap_or(NONE), "tail of drivable {d} at step {}", sim.step);
        assert_eq!(sim.qlen[d] as usize, q.len(), "length of drivable {d} at step {}", sim.step);
        for w in q.windows(2) {
            let (a, b) = (&sim.vs[w[0] as usize], &sim.vs[w[1] as usize]);
            let gap = a.dis - sim.kins[a.kin as usize].p.length - b.dis;
            assert!(gap > -1e-6, "overlap on drivable {d} at step {}: gap {gap}", sim.step);
        }
    }
}

#[test]
fn lone_vehicle_drives_at_free_flow() {
    let s = corridor(vec![(1.0, 0.0, 0.0)]);
    let sim = run(&s, SimConfig::default(), 120);
    let m = sim.metrics();
    assert_eq!(m.vehicles_created, 1);
    assert_eq!(m.throughput, 1, "the vehicle should have finished: {m:?}");
    // 600 m at 16.67 m/s plus acceleration from rest: a little over 36 s.
    assert!(m.average_travel_time_s > 36.0 && m.average_travel_time_s < 45.0, "{m:?}");
    assert_eq!(sim.vehicles_present(), 0);
}

#[test]
fn vehicles_stop_at_red_and_go_at_green() {
    // Phase 0 (green) runs 0..30 s; the vehicle released at t=25 reaches B during red.
    let s = corridor(vec![(1.0, 25.0, 25.0)]);
    let mut sim = Sim::new(&s, SimConfig::default());
    let mut stopped_at_line = false;
    for _ in 0..60 {
        sim.step();
        let t = sim.time();
        sim.for_each_vehicle(|v| {
            if t > 30.0 && t < 60.0 {
                assert!(v.lane_link.is_none() && v.road != Some(RoadId(1)), "crossed on red at t={t}: {v:?}");
            }
            if v.speed < 0.1 && v.road == Some(RoadId(0)) && v.dis > 250.0 {
                stopped_at_line = true;
            }
        });
    }
    assert!(stopped_at_line, "the vehicle never waited at the stop line");
    for _ in 0..60 {
        sim.step();
    }
    assert_eq!(sim.metrics().throughput, 1);
}

#[test]
fn conservation_and_no_overlap_under_heavy_demand() {
    let s = corridor(vec![(1.0, 0.0, 600.0)]);
    let sim = run(&s, SimConfig::default(), 900);
    let m = sim.metrics();
    assert_eq!(m.vehicles_created, 601);
    assert_eq!(m.vehicles_created, m.throughput + m.vehicles_running + m.vehicles_waiting);
    assert_eq!(sim.vehicles_present() as u64, m.vehicles_running + m.vehicles_waiting);
    // Capacity is at most one vehicle per ~2 s of green, half the time green.
    assert!(m.throughput > 100 && m.throughput < 500, "{m:?}");
    assert!(m.vehicles_waiting > 0, "demand above capacity must back up into the entry buffer");
}

#[test]
fn same_seed_gives_bit_identical_runs_whatever_the_threads() {
    let s = corridor(vec![(2.0, 0.0, 500.0), (3.0, 10.0, 400.0)]);
    let a = run(&s, SimConfig { seed: 7, ..Default::default() }, 700);
    let b = run(&s, SimConfig { seed: 7, threads: 2, ..Default::default() }, 700);
    assert_eq!(a.metrics().average_travel_time_s.to_bits(), b.metrics().average_travel_time_s.to_bits());
    let (mut va, mut vb) = (Vec::new(), Vec::new());
    a.for_each_vehicle(|v| va.push((v.id, v.dis.to_bits(), v.speed.to_bits())));
    b.for_each_vehicle(|v| vb.push((v.id, v.dis.to_bits(), v.speed.to_bits())));
    assert_eq!(va, vb);
}

#[test]
fn external_control_holds_red() {
    let s = corridor(vec![(2.0, 0.0, 200.0)]);
    let mut sim = Sim::new(&s, SimConfig::default());
    sim.set_phase(IntersectionId(1), 1);
    for _ in 0..300 {
        sim.step();
    }
    assert_eq!(sim.metrics().throughput, 0, "nothing may pass a held red");
    assert_eq!(sim.current_phase(IntersectionId(1)), Some(1));
    let q = sim.lane_stats(LaneId(0));
    assert!(q.waiting > 10 && q.queue_length_m > 50.0, "{q:?}");
    sim.set_green(IntersectionId(1), &[true]);
    for _ in 0..120 {
        sim.step();
    }
    assert!(sim.metrics().throughput > 20);
}

#[test]
fn events_report_trips() {
    let s = corridor(vec![(5.0, 0.0, 50.0)]);
    let mut sim = Sim::new(&s, SimConfig { record_events: true, ..Default::default() });
    let (mut starts, mut ends, mut enters) = (0, 0, 0);
    for _ in 0..200 {
        sim.step();
        for e in sim.step_events() {
            match e {
                SimEvent::TripStart { .. } => starts += 1,
                SimEvent::TripEnd { travel_time, free_flow_time, .. } => {
                    assert!(*travel_time >= *free_flow_time * 0.9);
                    ends += 1
                }
                SimEvent::LaneEnter { lane, .. } => {
                    assert_eq!(*lane, LaneId(1));
                    enters += 1
                }
                SimEvent::LaneExit { .. } | SimEvent::DetectorPass { .. } => {}
            }
        }
    }
    assert_eq!((starts, ends, enters), (11, 11, 11));
}

#[test]
fn replay_line_has_vehicles_and_lights() {
    let s = corridor(vec![(1.0, 0.0, 5.0)]);
    let mut sim = Sim::new(&s, SimConfig::default());
    for _ in 0..5 {
        sim.step();
    }
    let mut line = String::new();
    sim.write_replay_line(&mut line);
    let (veh, lights) = line.trim_end().split_once(';').unwrap();
    assert!(veh.split(',').filter(|x| !x.is_empty()).count() >= 1, "{line}");
    assert_eq!(lights, "AB g,");
}
