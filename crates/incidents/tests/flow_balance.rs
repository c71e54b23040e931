//! The exit roads' input–output test (`incidents::detect_flow`): a lane whose vehicles
//! stop reaching its loop (held behind an obstacle, or sent to another lane) is reported;
//! a congested lane that keeps flowing, a surge of demand, and a lane that flows again
//! are not.

use incidents::detect_flow::{FlowBalance, FlowConfig};
use incidents::{Report, SourceKind};
use sense::{LoopAggregate, MovementCount};
use twin::{MovementId, Network, RoadId};

fn grid() -> Network {
    let cfg = twin::gen::GenConfig { rows: 3, cols: 3, ring_road: false, t_junction_share: 0.0, ..twin::gen::GenConfig::demo() };
    twin::gen::generate(&cfg).unwrap().network
}

fn on() -> FlowConfig {
    FlowConfig { confidence: 0.6, ..FlowConfig::default() }
}

/// An exit road under test with a movement into it whose vehicles keep to one lane.
fn setup(net: &Network, fb: &FlowBalance) -> (RoadId, MovementId, u32) {
    for r in fb.roads() {
        assert!(net.intersection(net.road(r).to).is_virtual && !net.intersection(net.road(r).from).is_virtual);
        if net.road(r).lanes().count() < 2 {
            continue;
        }
        for &m in &net.intersection(net.road(r).from).movements {
            if net.movement(m).to_road != r {
                continue;
            }
            if let Some(g) = fb.group_of(m) {
                if g.len() == 1 {
                    return (r, m, g[0]);
                }
            }
        }
    }
    panic!("no exit road with a lane-keeping movement in the grid");
}

/// Feed `intervals` 30 s intervals: `sent(k)` vehicles by movement `m`; the loops of
/// `road` count `passed(k)[i]` on lane index `i`. Returns the reports.
fn feed(
    net: &Network,
    fb: &mut FlowBalance,
    road: RoadId,
    m: MovementId,
    intervals: usize,
    sent: impl Fn(usize) -> u32,
    passed: impl Fn(usize, u32) -> u32,
) -> Vec<Report> {
    let mut out = Vec::new();
    for k in 0..intervals {
        let (start, end) = (30.0 * k as f64, 30.0 * (k + 1) as f64);
        for lane in net.road(road).lanes() {
            let count = passed(k, net.lane(lane).index);
            fb.on_loop(&LoopAggregate { lane, road, start, end, count, occupancy: 0.05, speed: Some(12.0) });
        }
        let mv = net.movement(m);
        let count = sent(k);
        if count > 0 {
            let from_road = mv.from_road;
            fb.on_movement(&MovementCount {
                intersection: mv.intersection,
                movement: m,
                from_road,
                to_road: road,
                start,
                end,
                count,
            });
        }
        fb.check(net, &mut out);
    }
    out
}

#[test]
fn a_lane_whose_vehicles_stop_reaching_its_loop_is_reported() {
    let net = grid();
    let mut fb = FlowBalance::new(&net, on());
    let (r, m, lane) = setup(&net, &fb);
    // 4 vehicles per interval into `lane`, each passing its loop in the same interval;
    // from interval 20 on they stop behind an obstacle upstream of the loop.
    let out = feed(&net, &mut fb, r, m, 40, |_| 4, |k, i| if i == lane && k < 20 { 4 } else { 0 });
    assert_eq!(out.len(), 1, "{out:?}");
    let rep = &out[0];
    assert_eq!(rep.source, SourceKind::FlowBalance);
    assert_eq!(rep.road, Some(r));
    assert!(rep.origin.ends_with(&format!(":{lane}")), "{}", rep.origin);
    assert!((rep.confidence - 0.6).abs() < 1e-9);
    let t = rep.time - 600.0;
    assert!((30.0..=240.0).contains(&t), "reported {t} s after the blockage");
}

#[test]
fn a_lane_whose_vehicles_go_to_another_lane_is_reported() {
    // The road's total is conserved (every vehicle passes a loop), the lane's is not.
    let net = grid();
    let mut fb = FlowBalance::new(&net, on());
    let (r, m, lane) = setup(&net, &fb);
    let other = if lane == 0 { 1 } else { lane - 1 };
    let out = feed(
        &net,
        &mut fb,
        r,
        m,
        40,
        |_| 4,
        |k, i| match (k < 20, i == lane, i == other) {
            (true, true, _) | (false, _, true) => 4,
            _ => 0,
        },
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].time > 600.0);
}

#[test]
fn congested_flowing_surging_and_recovering_lanes_are_not_reported() {
    let net = grid();
    let mut fb = FlowBalance::new(&net, on());
    let (r, m, lane) = setup(&net, &fb);
    // Heavy, bursty inflow (signal platoons), every vehicle passing the loop one
    // interval later (slow transit).
    let sent = |k: usize| [0, 15, 3, 12, 9, 18, 0, 12][k % 8];
    let out = feed(&net, &mut fb, r, m, 60, sent, |k, i| if i == lane && k > 0 { sent(k - 1) } else { 0 });
    assert!(out.is_empty(), "{out:?}");
    // A surge: 2 per interval, then 20 for ten intervals, all passing.
    let mut fb = FlowBalance::new(&net, on());
    let surge = |k: usize| if (20..30).contains(&k) { 20 } else { 2 };
    let out = feed(&net, &mut fb, r, m, 60, surge, |k, i| if i == lane { surge(k) } else { 0 });
    assert!(out.is_empty(), "{out:?}");
    // Vehicles that went to another lane for a while (not enough to report), then the
    // lane flows again: the missed vehicles do not stay a deficit that a later quiet
    // spell would add to.
    let mut fb = FlowBalance::new(&net, on());
    let out = feed(&net, &mut fb, r, m, 60, |_| 2, |k, i| if i == lane && !(10..11).contains(&k) && k % 7 != 0 { 2 } else { 0 });
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn the_test_is_off_at_confidence_zero_and_ignores_other_roads() {
    let net = grid();
    let mut fb = FlowBalance::new(&net, FlowConfig::default().with_confidence(0.0));
    let (r, m, lane) = setup(&net, &fb);
    assert!(feed(&net, &mut fb, r, m, 30, |_| 6, |k, i| if i == lane && k < 10 { 6 } else { 0 }).is_empty());
    // A road into a signalised junction is not under test (its signal holds queues).
    let inner =
        (0..net.roads.len() as u32).map(RoadId).find(|&q| !net.intersection(net.road(q).to).is_virtual).expect("an inner road");
    let fb = FlowBalance::new(&net, on());
    assert!(fb.roads().all(|q| q != inner));
    assert!(net
        .intersection(net.road(inner).from)
        .movements
        .iter()
        .all(|&mv| net.movement(mv).to_road != inner || fb.group_of(mv).is_none()));
}

/// A loop covered with nothing passing on an exit road (nothing downstream to queue
/// behind) is its own kind of report, with its own confidence; on a signalised approach
/// it stays `occupancy:stuck`.
#[test]
fn a_stuck_loop_on_an_exit_road_is_labelled_and_weighted_apart() {
    use incidents::detect::{DetectConfig, Detectors, Reliability};
    use sense::{ObsData, Observation, SensorIdx};
    let net = grid();
    let cfg = DetectConfig { reliability: Reliability { exit_stuck: 0.45, ..Reliability::default() }, ..DetectConfig::default() };
    let fb = FlowBalance::new(&net, on());
    let (exit, _, _) = setup(&net, &fb);
    let inner = (0..net.roads.len() as u32)
        .map(RoadId)
        .find(|&q| net.intersection(net.road(q).to).is_signalised() && net.road(q).lanes().count() > 1)
        .expect("a signalised approach");
    for (road, label, conf) in [(exit, "occupancy:stuck:exit", 0.45), (inner, "occupancy:stuck", 0.2)] {
        let mut d = Detectors::new(&net, cfg.clone());
        let lane = net.road(road).lanes().next().unwrap();
        let mut out = Vec::new();
        // 20 intervals (10 min): the lane covered, nothing passing, its siblings flowing.
        for k in 0..20 {
            let (start, end) = (30.0 * k as f64, 30.0 * (k + 1) as f64);
            let batch: Vec<Observation> = net
                .road(road)
                .lanes()
                .map(|l| {
                    let stuck = l == lane;
                    let data = ObsData::Loop(LoopAggregate {
                        lane: l,
                        road,
                        start,
                        end,
                        count: if stuck { 0 } else { 3 },
                        occupancy: if stuck { 1.0 } else { 0.1 },
                        speed: (!stuck).then_some(10.0),
                    });
                    Observation { sensor: SensorIdx(0), time: end, data }
                })
                .collect();
            d.observe(&net, &batch, &mut out);
        }
        let stuck: Vec<&Report> = out.iter().filter(|r| r.source == SourceKind::Occupancy).collect();
        assert_eq!(stuck.len(), 1, "{out:?}");
        assert_eq!(incidents::score::report_label(stuck[0]), label);
        assert!((stuck[0].confidence - conf).abs() < 1e-9, "{:?}", stuck[0]);
    }
}
