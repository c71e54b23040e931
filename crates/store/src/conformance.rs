//! The backend-neutral conformance suite: every [`Store`] implementation must pass it
//! unchanged. A backend's test implements [`Harness`] (how to create an empty store and
//! how to reopen one) and calls [`run_all`]; the SQLite backend does so in its unit tests.
//! Enable with the cargo feature `conformance`.
//!
//! The data is the corridor test network (`sense::testnet::corridor`), times are Unix
//! seconds (2026-01-01 08:00 UTC onwards), and every check compares against values
//! computed by hand from the inputs.

use std::sync::Arc;

use city::spec::{IntersectionSpec, LaneLinkSpec, LaneSpec, MovementSpec, NetworkSpec, PhaseSpec, RoadSpec};
use city::{IntersectionId, LaneId, MovementId, Network, Point, RoadId, Turn};
use sense::testnet::corridor;
use sense::*;
use state::{AreaState, CityState, RoadClass, RoadState, TpiGrade};

use crate::*;

/// How a backend's test creates stores for the suite.
pub trait Harness {
    type S: Store + 'static;
    /// A new, empty store for `net`.
    fn fresh(&mut self, net: &Network, retention: Retention) -> Self::S;
    /// Close `store` and open the same storage again for `net` (a restart; `net` may list
    /// the same roads in another order).
    fn reopen(&mut self, store: Self::S, net: &Network, retention: Retention) -> Self::S;
}

/// Every check of the suite, in order.
pub fn run_all<H: Harness>(h: &mut H) {
    round_trip_and_reopen(h);
    visible_after_return_and_reads_during_writes(h);
    aggregates_by_minute_and_quarter_hour(h);
    area_and_city_history(h);
    snapshots_latest_and_at(h);
    plans_by_intersection_and_window(h);
    rejected_paginated_newest_first_and_truncated(h);
    prune_keeps_the_retention_windows(h);
    prune_applies_a_changed_retention(h);
    prune_refuses_an_absurd_now(h);
    prune_splits_a_batch_that_straddles_the_cut(h);
    restart_continues_time_and_completes_open_buckets(h);
    stable_keys_across_import_order(h);
    signal_events_and_history_are_bounded(h);
    health_is_ok_on_a_working_store(h);
    journal_round_trip_survives_prune_and_reopen(h);
    record_ids_store_each_record_once(h);
}

/// 2026-01-01 08:00:00 UTC, Unix seconds.
pub const T0: f64 = 1_767_254_400.0;

fn reg(net: &Network) -> SensorRegistry {
    SensorRegistry::for_network(net)
}

/// A loop observation of corridor lane `lane` ending at `time`.
pub fn loop_obs(r: &SensorRegistry, lane: u32, time: f64, count: u32) -> Observation {
    Observation {
        sensor: r.loop_sensor(LaneId(lane)).expect("loop"),
        time,
        data: ObsData::Loop(LoopAggregate {
            lane: LaneId(lane),
            road: r.lane_road(LaneId(lane)).expect("road"),
            start: time - 30.0,
            end: time,
            count,
            occupancy: 0.25,
            speed: Some(9.5),
        }),
    }
}

/// One observation of every kind on the corridor, at `t` .. `t + 6`.
pub fn all_kinds(r: &SensorRegistry, t: f64) -> Vec<Observation> {
    let b = IntersectionId(1);
    let (cam, ctl) = (r.camera(b).expect("camera"), r.controller(b).expect("controller"));
    let token = "0123456789abcdef01234567".to_string();
    let o = |sensor, time, data| Observation { sensor, time, data };
    vec![
        loop_obs(r, 1, t, 7),
        o(
            cam,
            t,
            ObsData::Movement(MovementCount {
                intersection: b,
                movement: MovementId(1),
                from_road: RoadId(2),
                to_road: RoadId(3),
                start: t - 30.0,
                end: t,
                count: 4,
            }),
        ),
        o(cam, t + 1.0, ObsData::Queue(QueueReading { intersection: b, road: RoadId(0), queue_m: 42.5, waiting: 6 })),
        o(cam, t + 2.0, ObsData::Plate(PlateRead { intersection: b, road: RoadId(0), token: token.clone() })),
        o(
            r.probe_feed().expect("probe"),
            t + 3.0,
            ObsData::Probe(ProbeFix { token, pos: Point::new(12.25, -3.5), speed: 7.125, heading: -1.5 }),
        ),
        o(ctl, t + 4.0, ObsData::Signal(SignalEvent { intersection: b, code: EventCode::PhaseBeginYellow, param: 2 })),
        o(
            r.citizen_feed().expect("citizen"),
            t + 5.0,
            ObsData::Report(CitizenReport {
                category: "hazard".into(),
                pos: None,
                road: Some(RoadId(3)),
                text: "oil\non road".into(),
            }),
        ),
        o(
            r.citizen_feed().expect("citizen"),
            t + 6.0,
            ObsData::Report(CitizenReport {
                category: "other".into(),
                pos: Some(Point::new(1.0, 2.0)),
                road: None,
                text: String::new(),
            }),
        ),
    ]
}

fn area(name: &str, tpi: f64, delay: Option<f64>) -> AreaState {
    AreaState {
        name: name.into(),
        roads_covered: 1,
        roads_total: 2,
        delay_index: delay,
        mean_speed: delay.map(|d| 16.0 / d),
        congested_share: tpi / 20.0,
        tpi,
        tpi_grade: TpiGrade::of(tpi),
    }
}

/// A corridor state at `time` with per-road speeds (road ids of the corridor).
pub fn snap(time: f64, speeds: [Option<f64>; 4], tpi: f64) -> CityState {
    let roads = speeds
        .iter()
        .enumerate()
        .map(|(i, &speed)| RoadState {
            road: RoadId(i as u32),
            class: RoadClass::Arterial,
            length_m: 300.0,
            free_speed: 16.67,
            speed,
            tti: speed.map(|v| 16.67 / v.max(0.1)),
            grade: None,
            flow_vph: None,
            loop_vehicles: 0,
            probe_fixes: 0,
        })
        .collect();
    CityState {
        time,
        roads,
        intersections: vec![],
        areas: vec![area("district-1", tpi, Some(1.5)), area("district-2", tpi / 2.0, None)],
        city: area("city", tpi, Some(2.0)),
    }
}

/// The corridor with its intersections, roads and lanes listed in another order (what
/// another import of the same city may produce): C, A, B and BA, CB, AB, BC.
pub fn corridor_reordered() -> Network {
    let inter = |name: &str, x: f64, virt: bool| IntersectionSpec {
        name: name.into(),
        point: Point::new(x, 0.0),
        width: if virt { 0.0 } else { 10.0 },
        is_virtual: virt,
        movements: vec![],
        phases: vec![],
    };
    let mut spec = NetworkSpec {
        intersections: vec![inter("C", 600.0, true), inter("A", 0.0, true), inter("B", 300.0, false)],
        roads: vec![],
        georef: Default::default(),
    };
    let road = |name: &str, from: usize, to: usize, x0: f64, x1: f64, lanes: usize| RoadSpec {
        name: name.into(),
        from,
        to,
        points: vec![Point::new(x0, 0.0), Point::new(x1, 0.0)],
        lanes: vec![LaneSpec { width: 4.0, max_speed: testnet::LIMIT }; lanes],
    };
    spec.roads.push(road("BA", 2, 1, 300.0, 0.0, 1));
    spec.roads.push(road("CB", 0, 2, 600.0, 300.0, 1));
    spec.roads.push(road("AB", 1, 2, 0.0, 300.0, 2));
    spec.roads.push(road("BC", 2, 0, 300.0, 600.0, 1));
    let mv = |from: usize, to: usize| MovementSpec {
        turn: Turn::Straight,
        from_road: from,
        to_road: to,
        lane_links: vec![LaneLinkSpec { from_lane: 0, to_lane: 0, points: vec![] }],
    };
    let b = &mut spec.intersections[2];
    b.movements = vec![mv(2, 3), mv(1, 0)];
    b.phases = vec![
        PhaseSpec { duration: 5.0, movements: vec![] },
        PhaseSpec { duration: 30.0, movements: vec![0] },
        PhaseSpec { duration: 30.0, movements: vec![1] },
    ];
    Network::build(&spec).expect("reordered corridor builds")
}

fn times(obs: &[Observation]) -> Vec<f64> {
    obs.iter().map(|o| o.time).collect()
}

pub fn round_trip_and_reopen<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = reg(&net);
    let obs = all_kinds(&r, T0 + 100.0);
    let s = h.fresh(&net, Retention::default());
    assert_eq!(s.last_time().unwrap(), None, "empty store");
    s.append(&r, &obs).unwrap();
    s.append(&r, &[]).unwrap();
    assert_eq!(s.observations(&r, 0.0, f64::MAX, 100).unwrap(), obs);
    let s = h.reopen(s, &net, Retention::default());
    assert_eq!(s.observations(&r, 0.0, f64::MAX, 100).unwrap(), obs, "same after reopening");
    assert_eq!(s.observations(&r, T0 + 101.0, T0 + 104.0, 100).unwrap(), obs[2..5].to_vec(), "time window [from, to)");
    assert_eq!(s.observations(&r, 0.0, f64::MAX, 3).unwrap(), obs[..3].to_vec(), "limit keeps the first rows");
    s.append(&r, &obs[..1]).unwrap();
    assert_eq!(s.observations(&r, 0.0, f64::MAX, 100).unwrap().len(), obs.len() + 1);
    assert_eq!(s.last_time().unwrap(), Some(T0 + 106.0));
    let ev = s.signal_events(IntersectionId(1), 0.0, f64::MAX, 100).unwrap();
    assert_eq!(ev, vec![(T0 + 104.0, EventCode::PhaseBeginYellow, 2)]);
    assert!(s.signal_events(IntersectionId(0), 0.0, f64::MAX, 100).unwrap().is_empty());
    assert!(s.signal_events(IntersectionId(1), 0.0, T0 + 104.0, 100).unwrap().is_empty(), "to is exclusive");
    // A sensor the registry does not know is skipped, not an error.
    let other = SensorRegistry::empty(&net);
    assert!(s.observations(&other, 0.0, f64::MAX, 100).unwrap().is_empty());
}

pub fn visible_after_return_and_reads_during_writes<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = Arc::new(reg(&net));
    let s: Arc<dyn Store> = Arc::new(h.fresh(&net, Retention::default()));
    const BATCHES: usize = 40;
    let reader = {
        let (s, r) = (s.clone(), r.clone());
        std::thread::spawn(move || {
            // Each read sees a prefix of whole batches, growing.
            let mut seen = Vec::new();
            loop {
                let n = s.observations(&r, 0.0, f64::MAX, usize::MAX).unwrap().len();
                assert_eq!(n % 5, 0, "a batch is visible whole or not at all");
                s.history(&Scope::Road(RoadId(0)), 0.0, f64::MAX, Resolution::Minute, usize::MAX).unwrap();
                seen.push(n);
                if n == BATCHES * 5 {
                    return seen;
                }
                std::thread::yield_now();
            }
        })
    };
    for k in 0..BATCHES {
        let t = T0 + k as f64;
        let batch: Vec<Observation> = (0..5).map(|lane| loop_obs(&r, lane, t, 1)).collect();
        s.append(&r, &batch).unwrap();
        // Visible to another thread as soon as append returned.
        let s2 = s.clone();
        let r2 = r.clone();
        let n = std::thread::spawn(move || s2.observations(&r2, t, t + 0.5, 100).unwrap().len()).join().unwrap();
        assert_eq!(n, 5, "batch {k} visible after append returned");
    }
    let seen = reader.join().unwrap();
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "reads never go back in time");
    let ab = s.history(&Scope::Road(RoadId(0)), 0.0, f64::MAX, Resolution::Minute, 100).unwrap();
    assert_eq!(ab.iter().map(|p| p.count).collect::<Vec<_>>(), vec![Some(2 * BATCHES as u64)], "lanes 0 and 1 of AB");
}

pub fn aggregates_by_minute_and_quarter_hour<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = reg(&net);
    let s = h.fresh(&net, Retention::default());
    // Road AB has lanes 0 and 1; lane 2 is road BC. T0 is a multiple of 900.
    s.append(
        &r,
        &[
            loop_obs(&r, 0, T0 + 30.0, 7),
            loop_obs(&r, 1, T0 + 59.0, 3),
            loop_obs(&r, 0, T0 + 60.0, 5),
            loop_obs(&r, 2, T0 + 30.0, 100),
        ],
    )
    .unwrap();
    s.append(&r, &[loop_obs(&r, 0, T0 + 900.0, 2)]).unwrap();
    for (t, v) in [(5.0, 10.0), (55.0, 12.0), (65.0, 8.0)] {
        s.append_snapshot(&snap(T0 + t, [Some(v), None, Some(1.0), None], 0.0)).unwrap();
    }
    let ab = Scope::Road(RoadId(0));
    let pts = |res, from: f64, to: f64| -> Vec<(f64, Option<u64>, Option<f64>)> {
        s.history(&ab, T0 + from, T0 + to, res, 100).unwrap().iter().map(|p| (p.time - T0, p.count, p.speed)).collect()
    };
    assert_eq!(pts(Resolution::Minute, 0.0, 120.0), vec![(0.0, Some(10), Some(11.0)), (60.0, Some(5), Some(8.0))]);
    assert_eq!(pts(Resolution::FifteenMinutes, 0.0, 1800.0), vec![(0.0, Some(15), Some(10.0)), (900.0, Some(2), None)]);
    assert_eq!(pts(Resolution::Minute, 30.0, 61.0).len(), 2, "a window starting mid-bucket includes that bucket");
    let raw: Vec<(f64, Option<f64>)> =
        s.history(&ab, T0, T0 + 100.0, Resolution::Snapshot, 100).unwrap().iter().map(|p| (p.time - T0, p.speed)).collect();
    assert_eq!(raw, vec![(5.0, Some(10.0)), (55.0, Some(12.0)), (65.0, Some(8.0))]);
    let none = s.history(&Scope::Road(RoadId(3)), T0, T0 + 100.0, Resolution::Snapshot, 100).unwrap();
    assert!(none.iter().all(|p| p.speed.is_none()) && none.len() == 3);
    let city = s.history(&Scope::City, T0, T0 + 120.0, Resolution::Minute, 100).unwrap();
    assert_eq!(city.iter().map(|p| p.count).collect::<Vec<_>>(), vec![Some(110), Some(5)], "city counts sum all roads");
    let e = s.history(&Scope::Road(RoadId(99)), T0, T0 + 100.0, Resolution::Minute, 100).unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::InvalidArgument, "{e}");
}

pub fn area_and_city_history<H: Harness>(h: &mut H) {
    let net = corridor();
    let s = h.fresh(&net, Retention::default());
    for (t, tpi) in [(0.0, 2.0), (30.0, 4.0), (60.0, 6.0), (90.0, 9.0)] {
        s.append_snapshot(&snap(T0 + t, [None; 4], tpi)).unwrap();
    }
    let hist = |scope: Scope, res| s.history(&scope, T0, f64::MAX, res, 100).unwrap();
    let d1 = hist(Scope::Area("district-1".into()), Resolution::Snapshot);
    assert_eq!(d1.iter().map(|p| p.tpi).collect::<Vec<_>>(), vec![Some(2.0), Some(4.0), Some(6.0), Some(9.0)]);
    let d2 = hist(Scope::Area("district-2".into()), Resolution::Minute);
    assert_eq!(
        d2.iter().map(|p| (p.time - T0, p.tpi, p.delay_index)).collect::<Vec<_>>(),
        vec![(0.0, Some(1.5), None), (60.0, Some(3.75), None)]
    );
    let c = hist(Scope::City, Resolution::FifteenMinutes);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].time, c[0].tpi, c[0].delay_index, c[0].speed), (T0, Some(5.25), Some(2.0), Some(8.0)));
    assert!(hist(Scope::Area("nowhere".into()), Resolution::Minute).is_empty());
    assert_eq!(s.history(&Scope::City, T0 + 30.0, T0 + 60.0, Resolution::Snapshot, 100).unwrap().len(), 1, "[from, to)");
}

pub fn snapshots_latest_and_at<H: Harness>(h: &mut H) {
    let net = corridor();
    let s = h.fresh(&net, Retention::default());
    assert_eq!(s.latest_snapshot().unwrap(), None);
    assert_eq!(s.snapshot_at(T0).unwrap(), None);
    s.append_snapshot(&snap(T0 + 10.0, [Some(10.0), None, Some(3.5), None], 1.0)).unwrap();
    s.append_snapshot(&snap(T0 + 20.0, [Some(12.0), Some(2.25), None, None], 3.0)).unwrap();
    let l = s.latest_snapshot().unwrap().unwrap();
    assert_eq!((l.time, l.tpi, l.delay_index, l.mean_speed), (T0 + 20.0, 3.0, Some(2.0), Some(8.0)));
    assert_eq!(l.road_speeds, vec![Some(12.0), Some(2.25), None, None]);
    assert_eq!(l.congested_share, 3.0 / 20.0);
    assert_eq!(s.snapshot_at(T0 + 15.0).unwrap().unwrap().road_speeds, vec![Some(10.0), None, Some(3.5), None]);
    assert_eq!(s.snapshot_at(T0 + 20.0).unwrap().unwrap().time, T0 + 20.0, "at or before");
    assert_eq!(s.snapshot_at(T0).unwrap().unwrap().time, T0 + 10.0, "the earliest when all are later");
    assert_eq!(s.last_time().unwrap(), Some(T0 + 20.0));
}

pub fn plans_by_intersection_and_window<H: Harness>(h: &mut H) {
    let net = corridor();
    let s = h.fresh(&net, Retention::default());
    s.append_plan(T0 + 20.0, "B", r#"{"phases":[5,40,20]}"#).unwrap();
    s.append_plan(T0 + 10.0, "B", r#"{"phases":[5,30,30]}"#).unwrap();
    s.append_plan(T0 + 15.0, "X", "{}").unwrap();
    let b = s.plans(Some("B"), 0.0, f64::MAX).unwrap();
    assert_eq!(
        b.iter().map(|p| (p.time - T0, p.plan.as_str())).collect::<Vec<_>>(),
        vec![(10.0, r#"{"phases":[5,30,30]}"#), (20.0, r#"{"phases":[5,40,20]}"#)]
    );
    assert_eq!(
        s.plans(None, T0 + 10.0, T0 + 20.0).unwrap().iter().map(|p| p.intersection.as_str()).collect::<Vec<_>>(),
        vec!["B", "X"]
    );
    assert!(s.plans(Some("C"), 0.0, f64::MAX).unwrap().is_empty());
}

fn rejection(index: usize, batch: u64, raw: String) -> Rejected {
    Rejected { seq: batch, index, error: format!("observations[{index}].occupancy: must be within 0..1, got 1.7"), raw, batch }
}

pub fn rejected_paginated_newest_first_and_truncated<H: Harness>(h: &mut H) {
    let net = corridor();
    let s = h.fresh(&net, Retention::default());
    assert!(s.rejected(None, 10).unwrap().is_empty());
    for b in 0..5u64 {
        let recs: Vec<Rejected> = (0..3).map(|i| rejection(i, b, format!("{{\"n\":{}}}", b * 3 + i as u64))).collect();
        s.append_rejected(T0 + b as f64, &recs).unwrap();
    }
    let big = "é".repeat(3000); // 6,000 bytes
    s.append_rejected(T0 + 9.0, &[Rejected { seq: 1, index: 0, error: "x".repeat(5000), raw: big.clone(), batch: 7 }]).unwrap();
    // Pages of 4, newest first, until empty.
    let (mut all, mut before) = (Vec::new(), None);
    loop {
        let page = s.rejected(before, 4).unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        all.extend(page);
    }
    assert_eq!(all.len(), 16);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first, strictly");
    let newest = &all[0];
    assert_eq!((newest.time, newest.batch, newest.index), (T0 + 9.0, 7, 0));
    let marker = format!("…[truncated, {} bytes total]", big.len());
    assert!(newest.raw.ends_with(&marker), "{}", &newest.raw[newest.raw.len() - 60..]);
    let kept = &newest.raw[..newest.raw.len() - marker.len()];
    assert!(kept.len() <= agg::MAX_REJECTED_RAW && big.starts_with(kept) && kept.len() + 2 > agg::MAX_REJECTED_RAW);
    assert!(newest.error.len() < 5000 && newest.error.ends_with("…[truncated, 5000 bytes total]"));
    let oldest = all.last().unwrap();
    assert_eq!((oldest.time, oldest.batch, oldest.index, oldest.raw.as_str()), (T0, 0, 0, "{\"n\":0}"));
    assert!(oldest.error.contains("occupancy"));
    assert_eq!(all.iter().filter(|r| r.raw.starts_with("{\"n\":")).count(), 15);
}

fn retention_short() -> Retention {
    Retention {
        raw_s: Some(100.0),
        snapshots_s: Some(200.0),
        minute_s: Some(300.0),
        quarter_s: None,
        rejected_s: Some(50.0),
        plans_s: None,
    }
}

/// A store with loops and snapshots at T0 + 30, 100, 400, 500, rejections at T0 + 100
/// and 480, and a plan at T0 + 10.
fn pruning_fixture<H: Harness>(h: &mut H, r: &SensorRegistry, net: &Network) -> H::S {
    let s = h.fresh(net, retention_short());
    for t in [30.0, 100.0, 400.0, 500.0] {
        s.append(r, &[loop_obs(r, 0, T0 + t, 1)]).unwrap();
        s.append_snapshot(&snap(T0 + t, [Some(5.0), None, None, None], 1.0)).unwrap();
    }
    s.append_rejected(T0 + 100.0, &[rejection(3, 9, "{}".into())]).unwrap();
    s.append_rejected(T0 + 480.0, &[rejection(3, 9, "{}".into())]).unwrap();
    s.append_plan(T0 + 10.0, "B", r#"{"phases":[5,30,30]}"#).unwrap();
    s
}

pub fn prune_keeps_the_retention_windows<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = reg(&net);
    let s = pruning_fixture(h, &r, &net);
    let rep = s.prune(T0 + 500.0).unwrap();
    // raw: keep time >= 400; snapshots: >= 300; minute buckets: >= 200; rejected: >= 450.
    assert_eq!(rep.raw, 2);
    assert_eq!(rep.snapshots, 2);
    assert_eq!(rep.aggregates, 2, "minute buckets 0 and 60");
    assert_eq!((rep.rejected, rep.plans), (1, 0));
    let kept = s.observations(&r, 0.0, f64::MAX, 10).unwrap();
    assert_eq!(times(&kept), vec![T0 + 400.0, T0 + 500.0]);
    assert_eq!(s.history(&Scope::City, 0.0, f64::MAX, Resolution::Snapshot, 100).unwrap().len(), 2);
    assert_eq!(
        s.history(&Scope::Road(RoadId(0)), 0.0, f64::MAX, Resolution::FifteenMinutes, 100).unwrap().len(),
        1,
        "kept forever"
    );
    let rej = s.rejected(None, 10).unwrap();
    assert_eq!(rej.iter().map(|x| x.time).collect::<Vec<_>>(), vec![T0 + 480.0]);
    assert_eq!(s.plans(Some("B"), 0.0, f64::MAX).unwrap().len(), 1);
    assert_eq!(s.prune(T0 + 500.0).unwrap(), PruneReport::default(), "idempotent");
}

/// A retention changed while the store runs (the governance policy's) is what the next
/// prune applies.
pub fn prune_applies_a_changed_retention<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = reg(&net);
    let s = pruning_fixture(h, &r, &net);
    // Raw observations shortened to 50 s, rejected records kept forever.
    s.set_retention(Retention { raw_s: Some(50.0), rejected_s: None, ..retention_short() });
    let rep = s.prune(T0 + 500.0).unwrap();
    assert_eq!(rep.raw, 3, "only the observation at 500 is within 50 s");
    assert_eq!(rep.rejected, 0);
    assert_eq!(times(&s.observations(&r, 0.0, f64::MAX, 10).unwrap()), vec![T0 + 500.0]);
}

pub fn prune_refuses_an_absurd_now<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = reg(&net);
    let s = pruning_fixture(h, &r, &net);
    let count = |s: &H::S| {
        (
            s.observations(&r, 0.0, f64::MAX, 100).unwrap().len(),
            s.history(&Scope::City, 0.0, f64::MAX, Resolution::Snapshot, 100).unwrap().len(),
            s.history(&Scope::Road(RoadId(0)), 0.0, f64::MAX, Resolution::Minute, 100).unwrap().len(),
            s.rejected(None, 100).unwrap().len(),
        )
    };
    let before = count(&s);
    assert_eq!(before, (4, 4, 4, 2));
    for now in [1e15, f64::INFINITY, f64::NAN, T0 + 500.0 + PRUNE_MAX_AHEAD_S + 1.0] {
        let e = s.prune(now).unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::InvalidArgument, "{now}: {e}");
        assert_eq!(count(&s), before, "prune({now}) deleted nothing");
    }
    // Up to a day ahead is a real clock: it prunes.
    let rep = s.prune(T0 + 500.0 + PRUNE_MAX_AHEAD_S).unwrap();
    assert_eq!(rep.raw, 4);
    // An empty store has nothing to lose: any finite now is accepted.
    let empty = h.fresh(&net, retention_short());
    assert_eq!(empty.prune(1e15).unwrap(), PruneReport::default());
}

pub fn prune_splits_a_batch_that_straddles_the_cut<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = reg(&net);
    let s = h.fresh(&net, Retention { raw_s: Some(100.0), ..Default::default() });
    s.append(&r, &[loop_obs(&r, 0, T0 + 450.0, 1), loop_obs(&r, 1, T0 + 300.0, 1), loop_obs(&r, 0, T0 + 480.0, 1)]).unwrap();
    s.append(&r, &[loop_obs(&r, 0, T0 + 520.0, 1)]).unwrap();
    assert_eq!(s.prune(T0 + 500.0).unwrap().raw, 1);
    let t = |s: &H::S| times(&s.observations(&r, 0.0, f64::MAX, 10).unwrap()).iter().map(|t| t - T0).collect::<Vec<_>>();
    assert_eq!(t(&s), vec![450.0, 480.0, 520.0]);
    assert_eq!(s.prune(T0 + 560.0).unwrap().raw, 1);
    assert_eq!(t(&s), vec![480.0, 520.0]);
    assert_eq!(s.prune(T0 + 1000.0).unwrap().raw, 2);
    assert!(t(&s).is_empty());
    s.append(&r, &[loop_obs(&r, 0, T0 + 1000.0, 1)]).unwrap();
    assert_eq!(t(&s), vec![1000.0]);
    assert_eq!(s.last_time().unwrap(), Some(T0 + 1000.0));
}

pub fn restart_continues_time_and_completes_open_buckets<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = reg(&net);
    let s = h.fresh(&net, Retention::default());
    s.append(&r, &[loop_obs(&r, 0, T0 + 30.0, 7)]).unwrap();
    s.append_snapshot(&snap(T0 + 35.0, [Some(10.0), None, None, None], 1.0)).unwrap();
    assert_eq!(s.last_time().unwrap(), Some(T0 + 35.0));
    let s = h.reopen(s, &net, Retention::default());
    assert_eq!(s.last_time().unwrap(), Some(T0 + 35.0));
    s.append(&r, &[loop_obs(&r, 1, T0 + 50.0, 3)]).unwrap();
    s.append_snapshot(&snap(T0 + 55.0, [Some(12.0), None, None, None], 1.0)).unwrap();
    let m = s.history(&Scope::Road(RoadId(0)), T0, T0 + 60.0, Resolution::Minute, 100).unwrap();
    assert_eq!(m.iter().map(|p| (p.time, p.count, p.speed)).collect::<Vec<_>>(), vec![(T0, Some(10), Some(11.0))]);
    let latest = s.latest_snapshot().unwrap().unwrap();
    assert_eq!((latest.time, latest.road_speeds), (T0 + 55.0, vec![Some(12.0), None, None, None]));
}

pub fn stable_keys_across_import_order<H: Harness>(h: &mut H) {
    let (net, net2) = (corridor(), corridor_reordered());
    let (r, r2) = (reg(&net), reg(&net2));
    let obs = all_kinds(&r, T0 + 100.0);
    let s = h.fresh(&net, Retention::default());
    s.append(&r, &obs).unwrap();
    s.append_snapshot(&snap(T0 + 110.0, [Some(10.0), Some(11.0), Some(12.0), None], 1.0)).unwrap();
    s.append(&r, &[loop_obs(&r, 1, T0 + 120.0, 5)]).unwrap();
    let s = h.reopen(s, &net2, Retention::default());
    // Same records by name, under the other import's ids.
    let back = s.observations(&r2, 0.0, f64::MAX, 100).unwrap();
    let wire = |reg: &SensorRegistry, o: &[Observation]| o.iter().map(|o| to_wire(reg, o)).collect::<Vec<_>>();
    let mut expect = obs.clone();
    expect.push(loop_obs(&r, 1, T0 + 120.0, 5));
    assert_eq!(wire(&r2, &back), wire(&r, &expect));
    let id2 = |name: &str| net2.road_by_name(name).unwrap();
    let snap2 = s.latest_snapshot().unwrap().unwrap();
    let speed_of = |name: &str| snap2.road_speeds[id2(name).idx()];
    assert_eq!((speed_of("AB"), speed_of("BC"), speed_of("CB"), speed_of("BA")), (Some(10.0), Some(11.0), Some(12.0), None));
    let ab = |s: &H::S| -> Vec<(f64, Option<u64>, Option<f64>)> {
        let h = s.history(&Scope::Road(id2("AB")), T0, T0 + 180.0, Resolution::Minute, 100).unwrap();
        h.iter().map(|p| (p.time - T0, p.count, p.speed)).collect()
    };
    assert_eq!(ab(&s), vec![(60.0, Some(7), Some(10.0)), (120.0, Some(5), None)]);
    let b2 = net2.intersection_by_name("B").unwrap();
    assert_eq!(s.signal_events(b2, 0.0, f64::MAX, 10).unwrap(), vec![(T0 + 104.0, EventCode::PhaseBeginYellow, 2)]);
    // New data under the new order lands on the same keys: lane 2 of the reordered
    // corridor is AB's first lane.
    assert_eq!(r2.lane_road(LaneId(2)), Some(id2("AB")));
    s.append(&r2, &[loop_obs(&r2, 2, T0 + 130.0, 1)]).unwrap();
    assert_eq!(ab(&s), vec![(60.0, Some(7), Some(10.0)), (120.0, Some(6), None)]);
}

pub fn signal_events_and_history_are_bounded<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = reg(&net);
    let s = h.fresh(&net, Retention::default());
    let ctl = r.controller(IntersectionId(1)).unwrap();
    let ev: Vec<Observation> = (0..50)
        .map(|k| Observation {
            sensor: ctl,
            time: T0 + k as f64 * 30.0,
            data: ObsData::Signal(SignalEvent { intersection: IntersectionId(1), code: EventCode::DetectorOn, param: k }),
        })
        .collect();
    s.append(&r, &ev).unwrap();
    for k in 0..50 {
        s.append_snapshot(&snap(T0 + k as f64 * 30.0, [Some(5.0), None, None, None], 1.0)).unwrap();
    }
    let got = s.signal_events(IntersectionId(1), 0.0, f64::MAX, 7).unwrap();
    assert_eq!(got.iter().map(|e| e.2).collect::<Vec<_>>(), (0..7).collect::<Vec<u32>>(), "the earliest 7");
    for (scope, res) in [
        (Scope::City, Resolution::Snapshot),
        (Scope::City, Resolution::Minute),
        (Scope::Area("district-1".into()), Resolution::Minute),
        (Scope::Road(RoadId(0)), Resolution::Snapshot),
        (Scope::Road(RoadId(0)), Resolution::Minute),
    ] {
        let all = s.history(&scope, 0.0, f64::MAX, res, usize::MAX).unwrap();
        let first = s.history(&scope, 0.0, f64::MAX, res, 5).unwrap();
        assert!(all.len() > 5, "{scope:?} {res:?}");
        assert_eq!(first, all[..5].to_vec(), "{scope:?} {res:?}");
    }
}

pub fn health_is_ok_on_a_working_store<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = reg(&net);
    let s = h.fresh(&net, Retention::default());
    s.health().unwrap();
    s.append(&r, &[loop_obs(&r, 0, T0, 1)]).unwrap();
    s.health().unwrap();
    // A refused argument is the caller's fault, not the storage's.
    let _ = s.prune(f64::NAN).unwrap_err();
    s.health().unwrap();
}

/// The journal keeps entries in id order per topic and key, survives a restart and is
/// not pruned by retention; a non-finite time is refused.
pub fn journal_round_trip_survives_prune_and_reopen<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = reg(&net);
    let s = h.fresh(&net, retention_short());
    let a = s.append_journal("incident", "1", T0, r#"{"to":"detected"}"#).unwrap();
    let b = s.append_journal("incident", "2", T0 + 1.0, r#"{"to":"detected"}"#).unwrap();
    let c = s.append_journal("incident", "1", T0 + 2.0, r#"{"to":"verified"}"#).unwrap();
    s.append_journal("audit", "1", T0 + 3.0, "{}").unwrap();
    assert!(a < b && b < c, "ids increase: {a} {b} {c}");
    let one = s.journal("incident", Some("1"), 10).unwrap();
    assert_eq!(one.iter().map(|e| e.id).collect::<Vec<_>>(), vec![a, c]);
    assert_eq!(one[1].body, r#"{"to":"verified"}"#);
    assert_eq!(one[1].time, T0 + 2.0);
    assert_eq!(s.journal("incident", None, 10).unwrap().len(), 3);
    assert_eq!(s.journal("incident", None, 2).unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), vec![a, b]);
    assert!(s.append_journal("incident", "1", f64::NAN, "{}").is_err());
    // Retention does not touch the journal.
    s.append(&r, &[loop_obs(&r, 0, T0 + 400_000.0, 1)]).unwrap();
    s.prune(T0 + 400_000.0).unwrap();
    let s = h.reopen(s, &net, retention_short());
    assert_eq!(s.journal("incident", None, 10).unwrap().len(), 3);
    assert_eq!(s.journal("audit", None, 10).unwrap().len(), 1);
}

/// Observations with the device's record id are stored once per (sensor, time, id),
/// within a batch, across calls and across a restart; the keys go with the raw retention;
/// ids and observations must pair up.
pub fn record_ids_store_each_record_once<H: Harness>(h: &mut H) {
    let net = corridor();
    let r = reg(&net);
    let s = h.fresh(&net, retention_short());
    let name = |o: &Observation| r.get(o.sensor).unwrap().id.clone();
    let batch = [
        loop_obs(&r, 0, T0 + 10.0, 1),
        loop_obs(&r, 1, T0 + 11.0, 2),
        loop_obs(&r, 0, T0 + 10.0, 4),
        loop_obs(&r, 0, T0 + 13.0, 8),
    ];
    let (a, b) = (name(&batch[0]), name(&batch[1]));
    assert_ne!(a, b);
    // The same id on another sensor is another record; the same sensor, time and id
    // again is not.
    let fresh = s.append_identified(&r, &batch, &[Some("1"), Some("1"), Some("1"), None]).unwrap();
    assert_eq!(fresh, vec![true, true, false, true]);
    assert_eq!(times(&s.observations(&r, 0.0, f64::MAX, 10).unwrap()), vec![T0 + 10.0, T0 + 11.0, T0 + 13.0]);
    let counted = s.history(&Scope::Road(RoadId(0)), 0.0, f64::MAX, Resolution::Minute, 10).unwrap();
    assert_eq!(counted.iter().filter_map(|p| p.count).sum::<u64>(), 11, "the duplicate is not counted in the aggregates");
    // The same id at another time is another record (a device may reuse ids).
    let again = [loop_obs(&r, 0, T0 + 10.0, 1), loop_obs(&r, 0, T0 + 21.0, 1), loop_obs(&r, 0, T0 + 22.0, 1)];
    assert_eq!(s.append_identified(&r, &again, &[Some("1"), Some("2"), Some("1")]).unwrap(), vec![false, true, true]);
    let keys = [
        (a.as_str(), T0 + 10.0, "1"),
        (a.as_str(), T0 + 21.0, "2"),
        (a.as_str(), T0 + 10.0, "3"),
        (b.as_str(), T0 + 11.0, "1"),
        (b.as_str(), T0 + 10.0, "1"),
    ];
    assert_eq!(s.known_record_ids(&keys).unwrap(), vec![true, true, false, true, false]);
    assert!(s.known_record_ids(&[]).unwrap().is_empty());
    let s = h.reopen(s, &net, retention_short());
    assert_eq!(s.known_record_ids(&keys).unwrap(), vec![true, true, false, true, false], "after a restart");
    assert_eq!(s.append_identified(&r, &again[..1], &[Some("1")]).unwrap(), vec![false]);
    assert_eq!(s.observations(&r, 0.0, f64::MAX, 10).unwrap().len(), 5);
    // All duplicates: nothing stored, nothing fails.
    assert_eq!(s.append_identified(&r, &batch[..2], &[Some("1"), Some("1")]).unwrap(), vec![false, false]);
    assert_eq!(s.observations(&r, 0.0, f64::MAX, 10).unwrap().len(), 5);
    let e = s.append_identified(&r, &batch, &[Some("9")]).unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::InvalidArgument, "{e}");
    // Keys leave with the raw rows they identified (raw retention 100 s).
    s.append(&r, &[loop_obs(&r, 2, T0 + 150.0, 1)]).unwrap();
    s.prune(T0 + 150.0).unwrap();
    assert_eq!(s.known_record_ids(&keys).unwrap(), vec![false; 5]);
    assert_eq!(s.append_identified(&r, &batch[..1], &[Some("1")]).unwrap(), vec![true]);
}
