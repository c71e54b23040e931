//! The car-following arrival predictor on the synthetic grid: with every vehicle's
//! position, speed and route (the perfect-information bound) it predicts the arrival at
//! each signal 60 s ahead at least as often within ±10 s as the speeds-per-road
//! predictor, and the detector-level one and the corridor's own routing run end to end.

use control::grid::grid_scenario;
use corridor::eval::{evaluate, summarize, EvalConfig};
use corridor::{EngineConfig, EtaModel, RouteMode};

fn config(eta: EtaModel, route: RouteMode) -> EvalConfig {
    EvalConfig {
        pairs: 3,
        recovery_s: 300.0,
        engine: EngineConfig { eta, route, ..EngineConfig::default() },
        ..EvalConfig::default()
    }
}

#[test]
fn the_perfect_information_predictor_is_at_least_as_close_as_speeds_per_road() {
    let s = grid_scenario(3, 3, 12.0, 3600.0);
    let (_, speeds) = evaluate(&s, &config(EtaModel::Speeds, RouteMode::Traffic)).unwrap();
    let (_, perfect) = evaluate(&s, &config(EtaModel::Perfect, RouteMode::Traffic)).unwrap();
    let (a, b) = (summarize(&speeds), summarize(&perfect));
    assert!(b.predictions > 0, "no prediction made 60 s before a signal");
    assert!(
        b.predictions_within_10s * a.predictions >= a.predictions_within_10s * b.predictions,
        "perfect {}/{} against speeds {}/{}",
        b.predictions_within_10s,
        b.predictions,
        a.predictions_within_10s,
        a.predictions
    );
    // The same routes and demand: the predictor changes only when calls are placed.
    for (x, y) in speeds.iter().zip(&perfect) {
        assert_eq!(x.ev_without_s, y.ev_without_s);
        assert!(y.lost_with_s.iter().all(|l| l.is_finite() && *l >= 0.0));
    }
}

#[test]
fn the_default_blend_predicts_every_pair() {
    let s = grid_scenario(3, 3, 12.0, 3600.0);
    let (_, r) = evaluate(&s, &config(EtaModel::default(), RouteMode::Traffic)).unwrap();
    let sum = summarize(&r);
    assert_eq!(r.len(), 3);
    assert!(sum.predictions > 0, "no prediction made 60 s before a signal: {sum:?}");
    assert!(r.iter().all(|p| p.ev_with_s.is_finite() && p.ev_with_s > 0.0), "{r:?}");
}

#[test]
fn detectors_and_the_corridors_own_routing_run_every_pair_to_arrival() {
    let s = grid_scenario(3, 3, 12.0, 3600.0);
    let (_, r) = evaluate(&s, &config(EtaModel::Detectors, RouteMode::Lanes)).unwrap();
    assert_eq!(r.len(), 3);
    for p in &r {
        assert!(p.ev_with_s > 0.0 && p.ev_with_s.is_finite());
        // The bound is the lower free-flow time of the two runs' routes.
        assert!(p.free_flow_s <= p.ev_with_s + 1e-9 && p.free_flow_s <= p.ev_without_s + 1e-9, "{p:?}");
    }
}

#[test]
fn with_lane_changing_the_predictors_run_and_the_corridor_still_helps() {
    let s = grid_scenario(3, 3, 12.0, 3600.0);
    for eta in [EtaModel::Speeds, EtaModel::Perfect] {
        let cfg = EvalConfig { lane_change: true, ..config(eta, RouteMode::Traffic) };
        let (_, r) = evaluate(&s, &cfg).unwrap();
        let sum = summarize(&r);
        assert!(sum.predictions > 0, "{eta:?}: no prediction made 60 s before a signal");
        assert!(sum.median_reduction_pct > 0.0, "{eta:?}: {sum:?}");
    }
}
