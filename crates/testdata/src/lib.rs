//! # testdata: the shared real data for tests
//!
//! Tests that need `../shared/data` (CityFlow Hangzhou/Jinan, CBEngine Nanchang) get it
//! here. Invariant: when the directory is missing the helpers print `SKIPPED` and return
//! `None`, except under `CI=true`, where they panic so that CI never skips silently.
//! `$CITYBRAIN_DATA` overrides the location. Used only as a dev-dependency.

use std::path::PathBuf;

use city::Scenario;

/// The shared data directory, or `None` (with a message) when it is missing outside CI.
pub fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CITYBRAIN_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but the shared data directory {} is missing", dir.display());
    }
    eprintln!("SKIPPED: shared data directory {} not found", dir.display());
    None
}

/// Read a file under the data directory (panics with the path on failure).
pub fn read(rel: &str) -> Option<String> {
    let p = data_dir()?.join(rel);
    Some(std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

/// A CityFlow scenario by directory name (`hangzhou_4x4`, `jinan_3x4`).
pub fn cityflow(name: &str) -> Option<Scenario> {
    let roadnet = read(&format!("cityflow/{name}/roadnet.json"))?;
    let flow = read(&format!("cityflow/{name}/flow.json"))?;
    Some(city::import::cityflow::load_scenario(&roadnet, &flow).unwrap_or_else(|e| panic!("{e}")))
}

/// The KDD Cup 2021 Nanchang round-2 scenario.
pub fn nanchang() -> Option<Scenario> {
    let roadnet = read("cbengine/nanchang_round2/roadnet.txt")?;
    let flow = read("cbengine/nanchang_round2/flow.txt")?;
    Some(
        city::import::cbengine::load_scenario_named(&roadnet, &flow, "roadnet.txt", "flow.txt").unwrap_or_else(|e| panic!("{e}")),
    )
}

/// The SUMO version of a shared scenario (`hangzhou_4x4`): `.net.xml` and `.rou.xml`
/// texts, for tests that parse them in their own way.
pub fn sumo_files(name: &str) -> Option<(String, String)> {
    Some((read(&format!("sumo/{name}/{name}.net.xml"))?, read(&format!("sumo/{name}/{name}.rou.xml"))?))
}
