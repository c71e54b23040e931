//! The binary end to end: `gen`, `sim --json`, `--export-cityflow` round trips, and bad
//! input giving a located error with a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn citybrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_citybrain")).args(args).output().expect("run citybrain")
}

/// A fresh scratch directory, removed again when the test ends (pass or fail).
struct TmpDir(PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmp(name: &str) -> TmpDir {
    let d = std::env::temp_dir().join(format!("citybrain-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    TmpDir(d)
}

fn sim_json(roadnet: &Path, flow: &Path, extra: &[&str]) -> serde_json::Value {
    let (r, f) = (roadnet.to_str().unwrap(), flow.to_str().unwrap());
    let mut args = vec!["sim", "--roadnet", r, "--flow", f, "--steps", "600", "--json"];
    args.extend_from_slice(extra);
    let out = citybrain(&args);
    assert!(out.status.success(), "sim failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// The deterministic outputs of `sim --json` (not timings or memory).
fn outcome(v: &serde_json::Value) -> Vec<(String, String)> {
    ["average_travel_time_s", "throughput", "vehicles_created", "mean_delay_s", "stops_per_vehicle", "vehicle_updates"]
        .iter()
        .map(|k| (k.to_string(), v[*k].to_string()))
        .collect()
}

#[test]
fn exported_scenario_runs_identically() {
    let city = tmp("gen");
    let out = citybrain(&["gen", "--rows", "3", "--cols", "4", "--out", city.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let export = tmp("export");
    let (r, f) = (city.join("roadnet.json"), city.join("flow.json"));
    let a = sim_json(&r, &f, &["--export-cityflow", export.to_str().unwrap()]);
    let b = sim_json(&export.join("roadnet.json"), &export.join("flow.json"), &[]);
    assert!(a["vehicles_created"].as_u64().unwrap() > 0);
    assert_eq!(outcome(&a), outcome(&b));
    // CityFlow input runs CityFlow's model: none of the SUMO options.
    assert_eq!(a["model"]["strategic_lanes"], false, "{a}");
    assert_eq!(a["model"]["lane_change"], false, "{a}");
    assert!(a["model"]["time_to_teleport_s"].is_null(), "{a}");
}

#[test]
fn sumo_files_are_detected_and_run() {
    let Some(data) = testdata::data_dir() else { return };
    let d = data.join("sumo/hangzhou_4x4");
    let v = sim_json(&d.join("hangzhou_4x4.net.xml"), &d.join("hangzhou_4x4.rou.xml"), &[]);
    assert!(v["vehicles_created"].as_u64().unwrap() > 400, "{v}");
    assert!(v["teleports"].is_u64(), "SUMO input runs with jam resolution and reports it: {v}");
    assert_eq!(v["model"]["strategic_lanes"], true, "SUMO input runs with strategic lanes and says so: {v}");
    assert_eq!(v["model"]["time_to_teleport_s"], 300.0, "{v}");
    let off = sim_json(
        &d.join("hangzhou_4x4.net.xml"),
        &d.join("hangzhou_4x4.rou.xml"),
        &["--time-to-teleport", "0", "--strategic-lanes", "false"],
    );
    assert_eq!(off["teleports"], 0, "{off}");
    assert_eq!(off["model"]["strategic_lanes"], false, "{off}");
    assert!(off["model"]["time_to_teleport_s"].is_null(), "{off}");
}

#[test]
fn replay_writes_the_roadnet_log_cityflows_viewer_reads() {
    let Some(data) = testdata::data_dir() else { return };
    let d = data.join("sumo/hangzhou_4x4");
    let dir = tmp("replay");
    std::fs::create_dir_all(&*dir).unwrap();
    let replay = dir.join("run.txt");
    sim_json(&d.join("hangzhou_4x4.net.xml"), &d.join("hangzhou_4x4.rou.xml"), &["--replay", replay.to_str().unwrap()]);
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.roadnet.json")).expect("roadnet log beside the replay"))
            .expect("JSON");
    let nodes = log["static"]["nodes"].as_array().expect("static.nodes");
    let edges = log["static"]["edges"].as_array().expect("static.edges");
    assert!(!nodes.is_empty() && !edges.is_empty());
    let ids: std::collections::HashSet<&str> = nodes.iter().map(|n| n["id"].as_str().expect("node id")).collect();
    for n in nodes {
        assert_eq!(n["point"].as_array().map(|p| p.len()), Some(2), "{n}");
        assert!(n["virtual"].is_boolean() && n["width"].is_number() && n["outline"].is_array(), "{n}");
        let outline = n["outline"].as_array().unwrap().len();
        assert!(outline == 0 || outline % 2 == 0 && outline >= 6, "{n}");
    }
    for e in edges {
        assert!(ids.contains(e["from"].as_str().unwrap()) && ids.contains(e["to"].as_str().unwrap()), "{e}");
        assert!(e["points"].as_array().unwrap().len() >= 2, "{e}");
        assert_eq!(e["nLane"].as_u64(), e["laneWidths"].as_array().map(|w| w.len() as u64), "{e}");
    }
    // Every road named in the replay's signal part is an edge of the log.
    let edge_ids: std::collections::HashSet<&str> = edges.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let text = std::fs::read_to_string(&replay).unwrap();
    let line = text.lines().nth(10).expect("replay lines");
    let lights = line.split(';').nth(1).unwrap();
    for road in lights.split(',').filter(|r| !r.is_empty()) {
        assert!(edge_ids.contains(road.split(' ').next().unwrap()), "{road}");
    }
}

#[test]
fn bad_route_names_file_and_line_and_fails() {
    let Some(data) = testdata::data_dir() else { return };
    let dir = tmp("bad");
    std::fs::create_dir_all(&*dir).unwrap();
    let net = data.join("sumo/hangzhou_4x4/hangzhou_4x4.net.xml");
    let sim = |name: &str, text: &str| {
        let rou = dir.join(name);
        std::fs::write(&rou, text).unwrap();
        citybrain(&["sim", "--roadnet", net.to_str().unwrap(), "--flow", rou.to_str().unwrap(), "--json", "--steps", "5"])
    };
    // A route that cannot be driven: that vehicle is skipped with a warning, the rest runs.
    let out = sim(
        "skip.rou.xml",
        "<routes>\n  <vehicle id=\"a\" depart=\"0\">\n    <route edges=\"road_0_1_0 nowhere\"/>\n  </vehicle>\n  \
         <vehicle id=\"b\" depart=\"0\"><route edges=\"road_0_1_0\"/></vehicle>\n</routes>\n",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("skip.rou.xml: line 2: \"a\" skipped (1 vehicles): route edge \"nowhere\" is not in the network"),
        "{err}"
    );
    assert!(err.contains("1 vehicles loaded") && err.contains("1 definitions skipped (1 vehicles) [unknown edge: 1"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(v["vehicles_created"], 1, "{v}");
    // Malformed input is still an error naming the file and line, with no partial output.
    let out = sim("bad.rou.xml", "<routes>\n  <vehicle id=\"a\" depart=\"soon\"/>\n</routes>\n");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.rou.xml: line 2: <vehicle>: depart: expected a time in seconds, got \"soon\""), "{err}");
    assert!(out.stdout.is_empty(), "no partial JSON on failure");
}

/// `kill -9` during sustained ingest loses no acknowledged observation: real `serve`
/// processes on loopback, killed with SIGKILL, the SQLite file checked after each kill.
/// (`scripts/kill9.sh` runs the 20-run version on a release build.)
#[test]
fn kill9_loses_no_acknowledged_observation() {
    let out = citybrain(&["bench", "--kill9", "2", "--batch", "500"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary = text.lines().find(|l| l.contains("kill -9 runs")).expect("summary line");
    assert!(summary.ends_with(", 0 lost"), "{summary}");
    let acked: u64 = summary.split_whitespace().nth(4).and_then(|n| n.parse().ok()).expect("acked count");
    assert!(acked > 0, "nothing was acknowledged: {text}");
}

#[test]
fn eval_json_is_keyed_by_the_command_line_names() {
    let city = tmp("eval-city");
    let out = citybrain(&["gen", "--rows", "3", "--cols", "3", "--out", city.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (r, f) = (city.join("roadnet.json"), city.join("flow.json"));
    let (r, f) = (r.to_str().unwrap(), f.to_str().unwrap());
    let dir = tmp("eval-out");
    let args = ["eval", "--roadnet", r, "--flow", f, "--steps", "300", "--controllers", "FixedTime,mp,webster"];
    let out = citybrain(&[&args[..], &["--json", "--out", dir.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["fixed", "maxpressure", "webster"]);
    assert!(v["maxpressure"]["change_vs_fixed_pct"]["average_travel_time_s"].is_number(), "{v}");
    assert!(v["fixed"]["average_travel_time_s"].as_f64().unwrap() > 0.0);
    // The Markdown table keeps the display names.
    let out = citybrain(&[&args[..], &["--out", dir.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    for row in ["| FixedTime | ", "| MaxPressure | ", "| Webster | "] {
        assert!(table.contains(row), "{table}");
    }
    assert!(table.contains("(+0.0%)"), "{table}");
}

/// `serve` refuses a data directory it cannot write, before it binds (even root cannot
/// create files in `/proc`).
#[test]
fn serve_refuses_an_unwritable_data_dir() {
    let dir = tmp("unwritable");
    let city = dir.join("city");
    let out = citybrain(&["gen", "--rows", "3", "--cols", "3", "--out", city.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cfg = dir.join("serve.json");
    let body = serde_json::json!({"roadnet": city.join("roadnet.json"), "port": 0, "data_dir": "/proc"});
    std::fs::write(&cfg, body.to_string()).unwrap();
    let out = citybrain(&["serve", "--config", cfg.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("data directory /proc is not writable"), "{err}");
}
