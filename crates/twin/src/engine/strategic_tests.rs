//! Strategic lane changing on a hand-written SUMO network: a one-lane road `A` feeds the
//! right lane of a two-lane road `B`; at `B`'s end only its left lane turns left into `C`
//! and only its right lane goes straight on into `D`. A vehicle bound for `C` must change
//! from `B`'s right lane to its left lane before the junction.

use city::import::sumo;

use crate::engine::{Sim, SimConfig};

const NET: &str = r#"<net version="1.9">
    <edge id="A" from="W" to="J1" priority="1">
        <lane id="A_0" index="0" speed="13.89" length="295.00" shape="-300.00,-1.60 -5.00,-1.60"/>
    </edge>
    <edge id="B" from="J1" to="J2" priority="1">
        <lane id="B_0" index="0" speed="13.89" length="290.00" shape="5.00,-4.80 295.00,-4.80"/>
        <lane id="B_1" index="1" speed="13.89" length="290.00" shape="5.00,-1.60 295.00,-1.60"/>
    </edge>
    <edge id="C" from="J2" to="N" priority="1">
        <lane id="C_0" index="0" speed="13.89" length="295.00" shape="301.60,5.00 301.60,300.00"/>
    </edge>
    <edge id="D" from="J2" to="E" priority="1">
        <lane id="D_0" index="0" speed="13.89" length="295.00" shape="305.00,-1.60 600.00,-1.60"/>
    </edge>
    <junction id="W" type="dead_end" x="-300.00" y="0.00" incLanes="" intLanes="" shape=""/>
    <junction id="J1" type="priority" x="0.00" y="0.00" incLanes="A_0" intLanes="" shape=""/>
    <junction id="J2" type="priority" x="300.00" y="0.00" incLanes="B_0 B_1" intLanes="" shape=""/>
    <junction id="N" type="dead_end" x="300.00" y="300.00" incLanes="C_0" intLanes="" shape=""/>
    <junction id="E" type="dead_end" x="600.00" y="0.00" incLanes="D_0" intLanes="" shape=""/>
    <connection from="A" to="B" fromLane="0" toLane="0" dir="s" state="M"/>
    <connection from="B" to="C" fromLane="1" toLane="0" dir="l" state="M"/>
    <connection from="B" to="D" fromLane="0" toLane="0" dir="s" state="M"/>
</net>"#;

const ROUTES: &str = r#"<routes>
    <flow id="left" begin="0" end="300" period="10"><route edges="A B C"/></flow>
    <flow id="straight" begin="5" end="300" period="10"><route edges="A B D"/></flow>
</routes>"#;

fn run(strategic_lanes: bool, steps: u32) -> Sim {
    let s = sumo::load_scenario_named(NET, ROUTES, "x.net.xml", "x.rou.xml").unwrap();
    let mut sim = Sim::new(&s, SimConfig { lane_change: true, strategic_lanes, ..Default::default() });
    for _ in 0..steps {
        sim.step();
    }
    sim
}

#[test]
fn vehicles_change_lanes_before_the_turn_their_route_needs() {
    // CityFlow's model: no lane link from A ends in a lane that turns into C, so the first
    // left-bound vehicle stands at A's end and everyone queues behind it.
    let off = run(false, 900).metrics();
    assert_eq!(off.vehicles_created, 60);
    assert_eq!(off.throughput, 0, "without strategic lanes nobody gets past the first left-bound vehicle: {off:?}");
    let sim = run(true, 900);
    let on = sim.metrics();
    assert_eq!(on.throughput, 60, "every vehicle finishes: {on:?}");
    assert_eq!(on.teleports, 0);
    assert!(
        sim.lane_changes_completed() >= 30,
        "each left-bound vehicle changed lanes on B: {} changes",
        sim.lane_changes_completed()
    );
    assert_eq!(sim.vehicles_present(), 0);
}

#[test]
fn a_vehicle_on_the_wrong_lane_signals_towards_its_turn_lane() {
    let s = sumo::load_scenario_named(NET, ROUTES, "x.net.xml", "x.rou.xml").unwrap();
    let sim = Sim::new(&s, SimConfig { strategic_lanes: true, ..Default::default() });
    assert!(sim.config().lane_change, "strategic lanes imply lane changing");
    let net = sim.network();
    let b = net.road(net.road_by_name("B").unwrap());
    // Our lane 0 is the innermost (SUMO's B_1, the left-turn lane).
    let (left, right) = (b.first_lane.0, b.first_lane.0 + 1);
    let left_flow = 0;
    use super::Rank;
    assert_eq!(sim.lane_rank(left_flow, 1, left), Rank::Continues);
    assert_eq!(sim.lane_rank(left_flow, 1, right), Rank::Stuck);
    let a = net.road(net.road_by_name("A").unwrap()).first_lane.0;
    assert_eq!(sim.lane_rank(left_flow, 0, a), Rank::Reaches, "A reaches B, but only its right lane");
    // The router takes A's only link to B although it ends in the wrong lane.
    assert_eq!(sim.link_to[(sim.next_of(left_flow, 0, a) - sim.n_lanes) as usize], right);
}

#[test]
fn strategic_runs_are_deterministic() {
    let (a, b) = (run(true, 400).metrics(), run(true, 400).metrics());
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}
