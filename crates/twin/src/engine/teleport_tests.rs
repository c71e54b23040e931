//! Jam resolution on the SUMO cross: both lanes of the west approach are blocked part-way,
//! so its vehicles stand behind the obstacle for ever unless they teleport.

use city::import::sumo;
use city::testutil::SUMO_CROSS_NET;

use crate::engine::{Sim, SimConfig};

const ROUTES: &str = r#"<routes>
    <flow id="west" begin="0" end="300" period="10"><route edges="WC CE"/></flow>
    <flow id="north" begin="0" end="300" period="10"><route edges="NC CS"/></flow>
</routes>"#;

fn run(teleport_after: Option<f64>, steps: u32) -> Sim {
    let s = sumo::load_scenario_named(SUMO_CROSS_NET, ROUTES, "x.net.xml", "x.rou.xml").unwrap();
    let mut sim = Sim::new(&s, SimConfig { teleport_after, ..Default::default() });
    let wc = s.network.road_by_name("WC").unwrap();
    for l in s.network.road(wc).lanes() {
        sim.block_lane(l, 200.0, 20.0);
    }
    for _ in 0..steps {
        sim.step();
    }
    sim
}

#[test]
fn blocked_vehicles_teleport_past_the_jam_and_finish() {
    let off = run(None, 1200).metrics();
    assert_eq!((off.throughput, off.teleports), (30, 0), "only the north flow finishes without teleports: {off:?}");
    let sim = run(Some(60.0), 1200);
    let on = sim.metrics();
    assert_eq!(on.vehicles_created, 60);
    assert_eq!(on.throughput, 60, "every west vehicle jumps the obstacle and finishes: {on:?}");
    assert_eq!(on.teleports, 30, "each west vehicle teleports once: {on:?}");
    assert_eq!(sim.vehicles_present(), 0);
    // A shorter run: the vehicles in the network or in entry buffers are all accounted for.
    let mid = run(Some(60.0), 400);
    let m = mid.metrics();
    assert_eq!(m.throughput + m.vehicles_running + m.vehicles_waiting, m.vehicles_created, "{m:?}");
    assert_eq!(mid.vehicles_present() as u64, m.vehicles_running + m.vehicles_waiting);
}

#[test]
fn teleports_wait_for_the_configured_time_and_are_deterministic() {
    // The first west vehicle reaches the obstacle after about 20 s and stands from then on.
    assert_eq!(run(Some(300.0), 300).metrics().teleports, 0, "nobody has stood 300 s yet");
    assert!(run(Some(300.0), 400).metrics().teleports > 0);
    let (a, b) = (run(Some(45.0), 700).metrics(), run(Some(45.0), 700).metrics());
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}
