use proptest::prelude::*;

use super::*;
use crate::engine::{Sim, SimConfig};
use city::demand::validate_route;
use city::ids::MovementId;
use city::spec::Turn;

fn cfg(rows: u32, cols: u32, seed: u64, ring_road: bool) -> GenConfig {
    GenConfig { rows, cols, seed, ring_road, ..GenConfig::demo() }
}

fn check_routes(city: &GenCity) {
    for (k, f) in city.demand.flows.iter().enumerate() {
        validate_route(&city.network, &f.route, &format!("flows[{k}].route")).unwrap();
        city::demand::validate_flow_timing(f, &format!("flows[{k}]")).unwrap();
        f.params.validate(&format!("flows[{k}].vehicle")).unwrap();
    }
}

/// Legs (road pairs) of every signalised junction.
fn leg_counts(city: &GenCity) -> Vec<usize> {
    city.network.intersections.iter().filter(|i| i.is_signalised()).map(|i| i.roads.len() / 2).collect()
}

#[test]
fn small_and_medium_grids_build() {
    for (rows, cols) in [(3, 3), (20, 20), (3, 7)] {
        let city = generate(&cfg(rows, cols, 7, false)).unwrap();
        let grid = city.spec.intersections.iter().filter(|i| !i.is_virtual).count();
        assert_eq!(grid, (rows * cols) as usize);
        let virt = city.spec.intersections.iter().filter(|i| i.is_virtual).count();
        assert_eq!(virt, 2 * (rows + cols) as usize, "one boundary node per street end");
        assert!(!city.demand.flows.is_empty());
        check_routes(&city);
    }
}

#[test]
fn bad_configs_are_rejected_with_the_field_named() {
    let e = generate(&cfg(2, 2, 1, false)).unwrap_err();
    assert_eq!(e.field, "rows");
    assert_eq!(e.to_string(), "rows: must be between 3 and 100, got 2");
    let e = generate(&cfg(5, 101, 1, false)).unwrap_err();
    assert_eq!(e.to_string(), "cols: must be between 3 and 100, got 101");
    let bad = [
        GenConfig { peak_vehicles_per_hour: f64::NAN, ..GenConfig::demo() },
        GenConfig { peak_vehicles_per_hour: -1.0, ..GenConfig::demo() },
        GenConfig { block_m: 20.0, ..GenConfig::demo() },
        GenConfig { arterial_every: 1, ..GenConfig::demo() },
        GenConfig { duration_s: f64::INFINITY, ..GenConfig::demo() },
        GenConfig { t_junction_share: 0.9, ..GenConfig::demo() },
        GenConfig { peak_vehicles_per_hour: 1_000_000.0, duration_s: 86_400.0, ..GenConfig::demo() },
    ];
    let fields: Vec<String> = bad.iter().map(|c| generate(c).unwrap_err().field).collect();
    assert_eq!(
        fields,
        [
            "peak_vehicles_per_hour",
            "peak_vehicles_per_hour",
            "block_m",
            "arterial_every",
            "duration_s",
            "t_junction_share",
            "peak_vehicles_per_hour"
        ]
    );
}

#[test]
fn same_seed_same_city_other_seed_other_city() {
    let a = generate(&cfg(8, 6, 42, true)).unwrap();
    let b = generate(&cfg(8, 6, 42, true)).unwrap();
    let c = generate(&cfg(8, 6, 43, true)).unwrap();
    assert_eq!(format!("{:?}", a.spec), format!("{:?}", b.spec));
    assert_eq!(format!("{:?}", a.demand), format!("{:?}", b.demand));
    assert_ne!(format!("{:?}", a.spec), format!("{:?}", c.spec));
    assert_ne!(format!("{:?}", a.demand), format!("{:?}", c.demand));
}

#[test]
fn there_are_t_junctions_and_four_leg_junctions() {
    for city in [generate(&GenConfig::demo()).unwrap(), generate(&cfg(12, 12, 3, false)).unwrap()] {
        let legs = leg_counts(&city);
        let t = legs.iter().filter(|&&l| l == 3).count();
        let four = legs.iter().filter(|&&l| l == 4).count();
        assert!(t > 0 && four > 0, "T {t}, four-leg {four}");
        assert_eq!(t + four, legs.len(), "only 3- and 4-leg junctions: {legs:?}");
        for i in city.network.intersections.iter().filter(|i| i.is_signalised()) {
            let greens = i.phases.len() / 2;
            if i.roads.len() == 6 {
                assert!((2..=3).contains(&greens), "{}: T-junction with {greens} greens", i.name);
            } else {
                assert!((4..=6).contains(&greens), "{}: four-leg junction with {greens} greens", i.name);
            }
        }
    }
}

#[test]
fn ring_road_adds_signalised_junctions_and_roads() {
    let plain = generate(&cfg(5, 4, 9, false)).unwrap();
    let ring = generate(&cfg(5, 4, 9, true)).unwrap();
    let ring_nodes: Vec<_> = ring.network.intersections.iter().filter(|i| i.name.starts_with("ring_")).collect();
    assert_eq!(ring_nodes.len(), 2 * (5 + 4));
    assert!(ring_nodes.iter().all(|i| i.is_signalised() && i.roads.len() == 8));
    // Spokes (2 per boundary street) plus the loop itself (2 per ring junction).
    assert_eq!(ring.spec.roads.len(), plain.spec.roads.len() + 2 * 18 + 2 * 18);
    let ring_speed = ring.network.lanes.iter().map(|l| l.max_speed).fold(0.0, f64::max);
    let grid_speed = plain.network.lanes.iter().map(|l| l.max_speed).fold(0.0, f64::max);
    assert!(ring_speed > grid_speed);
    check_routes(&ring);
}

#[test]
fn no_phase_gives_conflicting_movements_green_together() {
    for c in [GenConfig::demo(), cfg(9, 7, 5, false), cfg(4, 10, 77, true)] {
        let city = generate(&c).unwrap();
        let net = &city.network;
        for i in net.intersections.iter().filter(|i| i.is_signalised()) {
            assert_eq!(i.phases.len() % 2, 0);
            for (p, phase) in i.phases.iter().enumerate() {
                let green: Vec<MovementId> = (0..i.movements.len()).filter(|&k| phase.green[k]).map(|k| i.movements[k]).collect();
                for &a in &green {
                    for &b in &green {
                        assert!(
                            !net.movements_conflict(a, b),
                            "{} phase {p}: {:?} {:?} and {:?} {:?} conflict",
                            i.name,
                            net.movement(a).turn,
                            net.road(net.movement(a).from_road).name,
                            net.movement(b).turn,
                            net.road(net.movement(b).from_road).name
                        );
                    }
                }
                let turns = green.iter().map(|&m| net.movement(m).turn);
                if p % 2 == 0 {
                    // Clearance: right turns only, short.
                    assert!(turns.clone().all(|t| t == Turn::Right));
                    assert!((3.0..=5.0).contains(&phase.duration));
                } else {
                    assert!(turns.clone().any(|t| t != Turn::Right), "{} phase {p} serves nothing", i.name);
                    assert!((15.0..=40.0).contains(&phase.duration));
                }
            }
            // Every non-right movement is green in some phase.
            for k in 0..i.movements.len() {
                assert!(i.phases.iter().any(|p| p.green[k]), "{} movement {k} never green", i.name);
            }
        }
    }
}

#[test]
fn demand_has_an_am_peak() {
    let city = generate(&cfg(10, 10, 11, false)).unwrap();
    let d = GenConfig::demo().duration_s;
    let count = |a: f64, b: f64| city.demand.flows.iter().filter(|f| f.start >= a && f.start < b).count();
    let first_sixth = count(0.0, d / 6.0);
    let middle_third = count(d / 3.0, 2.0 * d / 3.0);
    let last_sixth = count(5.0 * d / 6.0, d);
    assert!(middle_third > 3 * first_sixth, "middle third {middle_third}, first sixth {first_sixth}");
    assert!(middle_third > 3 * last_sixth);
    // Peak-slice rate is close to the configured peak (3,000 per hour = 250 per 5 minutes).
    let peak_slice = count(1500.0, 1800.0).max(count(1800.0, 2100.0));
    assert!((200..=300).contains(&peak_slice), "{peak_slice}");
    assert_eq!(city.demand.vehicles_until(d), city.demand.flows.len() as u64);
    // Trips lean towards the centre: an interior road near the centre attracts more
    // trips than one near the edge of the grid.
    let net = &city.network;
    let grid: Vec<_> = net.intersections.iter().filter(|i| !i.is_virtual).collect();
    let centre = grid.iter().fold(city::Point::default(), |a, i| a + i.point) * (1.0 / grid.len() as f64);
    let reach = grid.iter().map(|i| (i.point - centre).len()).fold(0.0, f64::max);
    let inner = |r: crate::RoadId| (net.intersection(net.road(r).to).point - centre).len() < 0.4 * reach;
    let interior: Vec<crate::RoadId> = (0..net.roads.len())
        .map(crate::RoadId::from)
        .filter(|&r| !net.intersection(net.road(r).from).is_virtual && !net.intersection(net.road(r).to).is_virtual)
        .collect();
    let ends = |pick: &dyn Fn(crate::RoadId) -> bool| {
        let trips =
            city.demand.flows.iter().filter(|f| interior.contains(f.route.last().unwrap()) && pick(*f.route.last().unwrap()));
        trips.count() as f64 / interior.iter().filter(|&&r| pick(r)).count() as f64
    };
    let (per_inner, per_outer) = (ends(&|r| inner(r)), ends(&|r| !inner(r)));
    assert!(per_inner > 1.5 * per_outer, "trips per inner road {per_inner:.2}, per outer road {per_outer:.2}");
}

#[test]
fn connectivity_check_catches_a_cut_off_road() {
    let c = cfg(4, 4, 3, false);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(c.seed);
    let lay = layout::Layout::generate(&c, &mut rng);
    let mut spec = lay.to_spec();
    assert!(od::check_strongly_connected(&lay, &od::successors(&spec)).is_ok());
    // Remove every movement out of one grid road: it becomes a dead end.
    let road = (0..spec.roads.len()).find(|&r| !spec.intersections[spec.roads[r].to].is_virtual).unwrap();
    for i in &mut spec.intersections {
        i.movements.retain(|m| m.from_road != road);
    }
    let e = od::check_strongly_connected(&lay, &od::successors(&spec)).unwrap_err();
    assert!(e.message.contains("cut off"), "{e}");
}

#[test]
fn zero_demand_is_fine() {
    let city = generate(&GenConfig { peak_vehicles_per_hour: 0.0, ..GenConfig::demo() }).unwrap();
    assert!(city.demand.flows.is_empty());
}

#[test]
fn demo_city_runs_an_hour_without_gridlock() {
    let city = generate(&GenConfig::demo()).unwrap();
    let created_expected = city.demand.flows.len() as u64;
    let mut sim = Sim::from_parts(city.network, city.demand.flows, SimConfig::default());
    for _ in 0..3600 {
        sim.step();
    }
    let m = sim.metrics();
    eprintln!("demo city after 3600 s: {m:?}");
    assert_eq!(m.vehicles_created, created_expected);
    assert!(m.throughput as f64 > 0.5 * m.vehicles_created as f64, "{m:?}");
    assert!(m.average_travel_time_s.is_finite() && m.average_travel_time_s < 1800.0, "{m:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_small_cities_generate_valid_routes(
        rows in 3u32..=8,
        cols in 3u32..=8,
        seed in any::<u64>(),
        ring in any::<bool>(),
        every in prop_oneof![Just(0u32), 2u32..6],
        share in 0.0f64..0.3,
    ) {
        let c = GenConfig { rows, cols, seed, ring_road: ring, arterial_every: every, t_junction_share: share, ..GenConfig::demo() };
        let city = generate(&c).unwrap();
        prop_assert!(!city.demand.flows.is_empty());
        check_routes(&city);
    }
}

#[test]
fn explicit_lane_links_meet_the_lanes_the_builder_derives() {
    let city = generate(&cfg(5, 6, 2, true)).unwrap();
    let net = &city.network;
    for ll in &net.lane_links {
        let (from, to) = (net.lane(ll.from_lane), net.lane(ll.to_lane));
        let gap_in = (ll.points[0] - *from.points.last().unwrap()).len();
        let gap_out = (*ll.points.last().unwrap() - to.points[0]).len();
        assert!(gap_in < 1e-6 && gap_out < 1e-6, "lane link off its lanes by {gap_in} / {gap_out}");
    }
}

/// Golden whole-run summary of a small generated city: generation and a half-hour run
/// must reproduce `tests/golden/gen_4x4_seed7.txt` exactly. After an intended behaviour
/// change, regenerate with `UPDATE_GOLDEN=1 cargo test -p twin golden` and review the diff.
#[test]
fn golden_whole_run_summary() {
    let city = generate(&GenConfig { peak_vehicles_per_hour: 900.0, ..cfg(4, 4, 7, false) }).unwrap();
    let legs = leg_counts(&city);
    let mut sim = Sim::from_parts(city.network.clone(), city.demand.flows.clone(), SimConfig { seed: 7, ..SimConfig::default() });
    for _ in 0..1800 {
        sim.step();
    }
    let m = sim.metrics();
    let summary = format!(
        "intersections {}\nsignalised {} (T {}, four-leg {})\nroads {}\nlanes {}\nlane_links {}\nvehicles {}\n\
         created {}\nfinished {}\nrunning {}\naverage_travel_time_s {:.3}\nmean_delay_s {:.3}\nstops_per_vehicle {:.4}\n\
         vehicle_updates {}\n",
        city.network.intersections.len(),
        legs.len(),
        legs.iter().filter(|&&l| l == 3).count(),
        legs.iter().filter(|&&l| l == 4).count(),
        city.network.roads.len(),
        city.network.lanes.len(),
        city.network.lane_links.len(),
        city.demand.flows.len(),
        m.vehicles_created,
        m.throughput,
        m.vehicles_running,
        m.average_travel_time_s,
        m.mean_delay_s,
        m.stops_per_vehicle,
        m.vehicle_updates
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/gen_4x4_seed7.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &summary).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(summary, expected, "whole-run summary differs from {}", path.display());
}

/// The CLI's default 8x8 city (60 vehicles per hour per junction) keeps flowing, with
/// and without the ring road.
#[test]
fn cli_default_cities_keep_flowing() {
    for (n, ring) in [(8, false), (8, true)] {
        let c = GenConfig { peak_vehicles_per_hour: (n * n) as f64 * 60.0, ..cfg(n, n, 1, ring) };
        let city = generate(&c).unwrap();
        let mut sim = Sim::from_parts(city.network, city.demand.flows, SimConfig::default());
        for _ in 0..3600 {
            sim.step();
        }
        let m = sim.metrics();
        eprintln!(
            "{n}x{n} ring={ring}: created {} finished {} ({:.0} %), avg travel time {:.0} s, waiting {}",
            m.vehicles_created,
            m.throughput,
            100.0 * m.throughput as f64 / m.vehicles_created.max(1) as f64,
            m.average_travel_time_s,
            m.vehicles_waiting
        );
        assert!(m.throughput as f64 > 0.5 * m.vehicles_created as f64);
    }
}
