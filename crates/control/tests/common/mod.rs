//! Shared helpers: the real data directory (skip with a message when missing, fail under CI=true).

use std::path::PathBuf;

use twin::Scenario;

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

#[allow(dead_code)]
pub fn cityflow(name: &str) -> Option<Scenario> {
    let d = data_dir()?.join("cityflow").join(name);
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_else(|e| panic!("{}: {e}", d.join(f).display()));
    Some(twin::import::cityflow::load_scenario(&read("roadnet.json"), &read("flow.json")).unwrap_or_else(|e| panic!("{e}")))
}

#[allow(dead_code)]
pub fn nanchang() -> Option<Scenario> {
    let d = data_dir()?.join("cbengine/nanchang_round2");
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_else(|e| panic!("{}: {e}", d.join(f).display()));
    Some(
        twin::import::cbengine::load_scenario_named(&read("roadnet.txt"), &read("flow.txt"), "roadnet.txt", "flow.txt")
            .unwrap_or_else(|e| panic!("{e}")),
    )
}
