//! SUMO's departure lanes and positions on a hand-written network: a three-lane road `A`
//! whose rightmost lane (SUMO's `A_0`) alone leads on into the one-lane road `B` (with
//! `all_lanes`, every lane of `A` does).

use city::import::sumo;

use crate::engine::{Sim, SimConfig};

const NET: &str = r#"<net version="1.9">
    <edge id="A" from="W" to="J" priority="1">
        <lane id="A_0" index="0" speed="13.89" length="295.00" shape="-300.00,-8.00 -5.00,-8.00"/>
        <lane id="A_1" index="1" speed="13.89" length="295.00" shape="-300.00,-4.80 -5.00,-4.80"/>
        <lane id="A_2" index="2" speed="13.89" length="295.00" shape="-300.00,-1.60 -5.00,-1.60"/>
    </edge>
    <edge id="B" from="J" to="E" priority="1">
        <lane id="B_0" index="0" speed="13.89" length="295.00" shape="5.00,-1.60 300.00,-1.60"/>
    </edge>
    <junction id="W" type="dead_end" x="-300.00" y="0.00" incLanes="" intLanes="" shape=""/>
    <junction id="J" type="priority" x="0.00" y="0.00" incLanes="A_0 A_1 A_2" intLanes="" shape=""/>
    <junction id="E" type="dead_end" x="300.00" y="0.00" incLanes="B_0" intLanes="" shape=""/>
    <connection from="A" to="B" fromLane="0" toLane="0" dir="s" state="M"/>
</net>"#;

/// Three vehicles departing at 0 with `departLane` = `lane` (none if empty) and the
/// further attributes `extra`.
fn routes(lane: &str, extra: &str) -> String {
    let attr = if lane.is_empty() { String::new() } else { format!(r#" departLane="{lane}""#) };
    let v: String = (0..3).map(|i| format!(r#"<vehicle id="v{i}" depart="0" route="r"{attr} {extra}/>"#)).collect();
    format!(r#"<routes><route id="r" edges="A B"/>{v}</routes>"#)
}

fn sim_with(lane: &str, extra: &str, strategic_lanes: bool) -> Sim {
    sim_on(NET, lane, extra, strategic_lanes)
}

fn sim_on(net: &str, lane: &str, extra: &str, strategic_lanes: bool) -> Sim {
    let s = sumo::load_scenario_named(net, &routes(lane, extra), "x.net.xml", "x.rou.xml").unwrap();
    Sim::new(&s, SimConfig { lane_change: true, strategic_lanes, ..Default::default() })
}

fn sim(lane: &str, strategic_lanes: bool) -> Sim {
    sim_with(lane, "", strategic_lanes)
}

/// Front positions on lane `l`, front first; the queue must be ordered by position.
fn positions(sim: &Sim, l: u32) -> Vec<f64> {
    let d: Vec<f64> = sim.queue(l as usize).map(|v| sim.vs[v as usize].dis).collect();
    assert!(d.windows(2).all(|w| w[0] >= w[1]), "queue out of order: {d:?}");
    d
}

/// The twin lane of SUMO's lane `k` of `A` (the importer reverses lane order).
fn sumo_lane(sim: &Sim, k: u32) -> u32 {
    let a = sim.network().road(sim.network().road_by_name("A").unwrap());
    a.first_lane.0 + a.lane_count - 1 - k
}

/// The lanes of the running vehicles (lane-change shadows left out), sorted.
fn running_lanes(sim: &Sim) -> Vec<u32> {
    let mut v: Vec<u32> = (0..sim.vs.len() as u32)
        .filter(|&v| sim.vs[v as usize].running && !sim.is_shadow(v))
        .map(|v| sim.vs[v as usize].drv)
        .collect();
    v.sort_unstable();
    v
}

/// `NET` with every lane of `A` leading into `B`.
fn all_lanes() -> String {
    NET.replace(
        "</net>",
        r#"<connection from="A" to="B" fromLane="1" toLane="0" dir="s" state="M"/>
        <connection from="A" to="B" fromLane="2" toLane="0" dir="s" state="M"/></net>"#,
    )
}

#[test]
fn free_lanes_spread_a_waiting_queue_over_the_road() {
    let mut s = sim_on(&all_lanes(), "free", "", true);
    for _ in 0..3 {
        s.step();
    }
    // All three wait behind each other at release (every lane empty: the rightmost), but
    // each enters the lane with the most room when its turn comes.
    let mut want = vec![sumo_lane(&s, 0), sumo_lane(&s, 1), sumo_lane(&s, 2)];
    want.sort_unstable();
    assert_eq!(running_lanes(&s), want, "one vehicle per lane after three steps");
}

#[test]
fn a_given_lane_counts_from_the_right_and_waits_for_room() {
    let mut s = sim("0", true);
    for _ in 0..3 {
        s.step();
    }
    let lanes = running_lanes(&s);
    assert!(!lanes.is_empty() && lanes.len() < 3, "the second vehicle waits for room on the same lane: {lanes:?}");
    assert!(lanes.iter().all(|&l| l == sumo_lane(&s, 0)), "SUMO's lane 0 is the rightmost: {lanes:?}");
    let mut s = sim("2", true);
    s.step();
    assert_eq!(running_lanes(&s), [sumo_lane(&s, 2)]);
    let mut s = sim("first", true);
    s.step();
    assert_eq!(running_lanes(&s), [sumo_lane(&s, 0)], "first is the rightmost lane");
    // A lane the road does not have: CityFlow's rule (a lane that leads on).
    let mut s = sim("7", true);
    s.step();
    assert_eq!(running_lanes(&s), [sumo_lane(&s, 0)]);
}

#[test]
fn allowed_and_best_keep_to_lanes_that_lead_on() {
    // The twin's free and random keep to the best lanes too (see `depart.rs`).
    for rule in ["allowed", "best", "free", "random"] {
        let mut s = sim(rule, true);
        for _ in 0..3 {
            s.step();
        }
        let lanes = running_lanes(&s);
        assert!(!lanes.is_empty() && lanes.iter().all(|&l| l == sumo_lane(&s, 0)), "{rule}: {lanes:?}");
    }
    // Without strategic lanes a vehicle could not leave a lane that does not lead on, so
    // free keeps to those too.
    let mut s = sim("free", false);
    for _ in 0..3 {
        s.step();
    }
    let lanes = running_lanes(&s);
    assert!(!lanes.is_empty() && lanes.iter().all(|&l| l == sumo_lane(&s, 0)), "{lanes:?}");
}

#[test]
fn every_departure_lane_rule_finishes_its_trips() {
    for rule in ["", "free", "random", "allowed", "best", "first", "0", "1", "2"] {
        let mut s = sim(rule, true);
        for _ in 0..400 {
            s.step();
        }
        let m = s.metrics();
        assert_eq!((m.vehicles_created, m.throughput), (3, 3), "departLane={rule:?}: {m:?}");
        assert_eq!(s.vehicles_present(), 0);
    }
}

#[test]
fn a_given_position_counts_from_the_start_or_from_the_end() {
    for (pos, want) in [("100", 100.0), ("-50", 245.0), ("1000", 295.0)] {
        let mut s = sim_with("0", &format!(r#"departPos="{pos}""#), true);
        s.step();
        let lane = sumo_lane(&s, 0);
        let d = positions(&s, lane);
        // Entered at `want`, then one step from rest (1.3 m at SUMO's 2.6 m/s²), unless it
        // left the lane already.
        assert!(d.len() == 1 || pos == "1000", "departPos={pos}: {d:?}");
        if pos != "1000" {
            assert!((d[0] - want - 1.3).abs() < 1e-6, "departPos={pos}: {d:?}");
        }
    }
}

#[test]
fn free_positions_use_the_gaps_along_the_lane() {
    let mut s = sim_with("0", r#"departPos="free""#, true);
    for _ in 0..3 {
        s.step();
    }
    let lane = sumo_lane(&s, 0);
    assert_eq!(running_lanes(&s), [lane; 3], "all three entered the lane in three steps (at its start, only one could)");
    let d = positions(&s, lane);
    let gaps: Vec<f64> = d.windows(2).map(|w| w[0] - 5.0 - w[1]).collect();
    assert!(gaps.iter().all(|&g| g > 0.0), "no vehicle overlaps another: {d:?}");
}

#[test]
fn every_departure_position_rule_finishes_its_trips_and_keeps_order() {
    for pos in ["base", "free", "random", "random_free", "last", "150", "-10"] {
        for lane in ["0", "free"] {
            let mut s = sim_with(lane, &format!(r#"departPos="{pos}" departSpeed="max""#), true);
            for _ in 0..400 {
                s.step();
                for k in 0..3 {
                    positions(&s, sumo_lane(&s, k));
                }
            }
            let m = s.metrics();
            assert_eq!((m.vehicles_created, m.throughput), (3, 3), "departPos={pos} departLane={lane}: {m:?}");
            assert_eq!(s.vehicles_present(), 0);
        }
    }
}
