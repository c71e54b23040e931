//! Every policy runs on a small scenario under both protocols; the evaluation table and
//! plot come out end to end; the KDD score runs.

mod common;

use control::grid::grid_scenario;
use control::policy::NAMES;
use control::{kdd_score, markdown_table, run, svg_plot, ControlError, Controller, Protocol};

#[test]
fn every_policy_runs_under_both_protocols() {
    let s = grid_scenario(2, 2, 8.0, 600.0);
    for protocol in [Protocol::Benchmark, Protocol::Operational] {
        for name in NAMES {
            let r = run(&s, name, protocol, 1, 900).unwrap();
            assert!(r.throughput > 50, "{name} {protocol:?}: throughput {}", r.throughput);
            assert!(r.average_travel_time_s.is_finite() && r.average_travel_time_s > 0.0);
            assert!(r.delay_index >= 0.99, "{name}: delay index {}", r.delay_index);
            assert_eq!(r.series.len(), 15);
            if *name != "FixedTime" {
                assert!(r.phase_changes > 0, "{name} {protocol:?} never changed phase");
            }
        }
    }
}

#[test]
fn runs_are_deterministic_and_unknown_policies_are_errors() {
    let s = grid_scenario(2, 2, 8.0, 300.0);
    let a = run(&s, "CityBrain", Protocol::Operational, 3, 400).unwrap();
    let b = run(&s, "citybrain", Protocol::Operational, 3, 400).unwrap();
    assert_eq!(a, b);
    let err = run(&s, "Magic", Protocol::Benchmark, 0, 10).unwrap_err();
    assert_eq!(err, ControlError::UnknownPolicy("Magic".into()));
    assert!(err.to_string().contains("maxpressure"));
    assert!(Controller::new(&s, "nope", Protocol::Benchmark, 10.0).is_err());
}

#[test]
fn adaptive_control_beats_fixed_time_on_an_unbalanced_grid() {
    let s = grid_scenario(2, 2, 5.0, 900.0);
    let fixed = run(&s, "FixedTime", Protocol::Operational, 0, 1200).unwrap();
    let cb = run(&s, "CityBrain", Protocol::Operational, 0, 1200).unwrap();
    assert!(
        cb.average_travel_time_s < fixed.average_travel_time_s,
        "{} vs {}",
        cb.average_travel_time_s,
        fixed.average_travel_time_s
    );
}

#[test]
fn eval_table_and_plot_end_to_end() {
    let s = grid_scenario(2, 2, 8.0, 600.0);
    let rows: Vec<(String, control::RunResult)> =
        NAMES.iter().map(|n| (n.to_string(), run(&s, n, Protocol::Benchmark, 0, 600).unwrap())).collect();
    let md = markdown_table(&rows);
    assert_eq!(md.lines().count(), 2 + NAMES.len());
    for n in NAMES {
        assert!(md.lines().any(|l| l.starts_with(&format!("| {n} |"))), "{n} missing:\n{md}");
    }
    assert!(md.contains("(+0.0%)"), "FixedTime row is the baseline:\n{md}");
    let svg = svg_plot("grid", &rows);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 2 * NAMES.len());
    for n in NAMES {
        assert!(svg.contains(&format!(">{n}</text>")));
    }
}

#[test]
fn kdd_score_stops_when_the_delay_index_passes_the_limit() {
    // Saturating demand: the delay index climbs past 1.4 and the run stops early.
    let s = grid_scenario(2, 2, 1.5, 3600.0);
    let k = kdd_score(&s, "FixedTime", Protocol::Operational, 0, 3600).unwrap();
    let stop = k.stopped_at_s.expect("saturated grid must pass the limit");
    assert!(k.delay_index > control::eval::KDD_DELAY_LIMIT);
    assert_eq!(stop % control::eval::KDD_CHECK_S, 0.0);
    assert!(k.served > 0);
    // Light demand never passes it.
    let light = grid_scenario(2, 2, 30.0, 600.0);
    let k = kdd_score(&light, "MaxPressure", Protocol::Operational, 0, 600).unwrap();
    assert_eq!(k.stopped_at_s, None);
    assert!(k.delay_index < control::eval::KDD_DELAY_LIMIT);
}

#[test]
fn maxpressure_matches_the_cityflow_reference() {
    // CityFlow, same protocol and metric: Hangzhou 352.11 s, Jinan 316.37 s.
    for (name, reference) in [("hangzhou_4x4", 352.11), ("jinan_3x4", 316.37)] {
        let Some(s) = common::cityflow(name) else { return };
        let r = run(&s, "MaxPressure", Protocol::Benchmark, 0, 3600).unwrap();
        let rel = (r.average_travel_time_s - reference) / reference;
        assert!(rel.abs() <= 0.05, "{name}: {:.2} s vs CityFlow {reference} s ({:+.1}%)", r.average_travel_time_s, rel * 100.0);
    }
}

#[test]
fn every_spelling_maps_to_one_command_line_name() {
    use control::policy::{cli_name, display_name, CLI_NAMES};
    assert_eq!(CLI_NAMES.len(), NAMES.len());
    for (cli, display) in CLI_NAMES.iter().zip(NAMES) {
        assert_eq!(cli_name(cli), Some(*cli));
        assert_eq!(cli_name(display), Some(*cli));
        assert_eq!(cli_name(&cli.to_uppercase()), Some(*cli));
        assert_eq!(display_name(cli), Some(*display));
    }
    assert_eq!(cli_name("fixedtime"), Some("fixed"));
    assert_eq!(cli_name("MP"), Some("maxpressure"));
    assert_eq!(cli_name("greedy"), None);
    assert_eq!(display_name("greedy"), None);
}
