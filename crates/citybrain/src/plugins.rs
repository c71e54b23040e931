//! The one place where capability plug-ins are registered with the runtime. A new
//! capability is a crate of its own implementing [`brain::Plugin`], and one line here.

use brain::plugins::{CongestionWatch, CongestionWatchConfig};
use std::sync::Arc;

use brain::Brain;

/// Register every plug-in the live brain runs. `simulated_units`: the twin's response
/// units accept alerts and clear scenes by themselves (the demo); otherwise only their
/// unit pages do.
pub fn register(b: &Arc<Brain>, simulated_units: bool) {
    b.register(Box::new(CongestionWatch::new(CongestionWatchConfig::default())));
    incidents::Incidents::install(b, incident_config(simulated_units), incidents::dispatch::default_fleet(&b.net, 3));
    // After incidents: a tick's priority dispatches start their corridors in that tick.
    corridor::Corridors::install(b, corridor::EngineConfig::default());
}

/// The incident capability's settings for the live brain.
pub fn incident_config(simulated_units: bool) -> incidents::IncidentsConfig {
    incidents::IncidentsConfig {
        auto_accept_s: simulated_units.then_some(20.0),
        auto_clear_s: simulated_units.then_some(600.0),
        ..Default::default()
    }
}

/// The `ngsi` section of the `serve` configuration (all optional).
#[derive(serde::Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct NgsiSettings {
    /// Loopback only: NGSI-LD requests without a credential act as a service account of
    /// this department (to run a conformance suite, which sends none). Refused when the
    /// server binds beyond loopback. Default: such requests are the public.
    pub anonymous_as: Option<String>,
    /// URL prefixes `@context` documents may be fetched from (default: loopback,
    /// `http://127.0.0.1:` and `http://localhost:`); nothing else is ever fetched.
    pub context_allow: Option<Vec<String>>,
    /// Context documents known in advance: URL → local file (read at start).
    #[serde(default)]
    pub context_files: std::collections::BTreeMap<String, std::path::PathBuf>,
    /// URL prefixes notifications may go to besides loopback.
    #[serde(default)]
    pub notify_allow: Vec<String>,
    /// Show the brain's own data (devices, road segments, signals, flows, alerts) as
    /// entities of the default tenant (default true). Off: the broker holds only what
    /// clients write (e.g. for a conformance suite that expects an empty broker).
    pub brain_entities: Option<bool>,
    /// Most attribute instances in one entity's temporal representation before the
    /// answer is cut (206 + `Content-Range`); default 1000.
    pub temporal_max_instances: Option<usize>,
}

/// Open the NGSI-LD capability (`ngsi.sqlite` in `data_dir`); tenants are governance's
/// departments.
pub fn register_ngsi(
    b: &Arc<Brain>,
    data_dir: &std::path::Path,
    gov: &Arc<governance::Governance>,
    s: &NgsiSettings,
) -> anyhow::Result<Arc<ngsi::Ngsi>> {
    use anyhow::Context as _;
    let mut preload = Vec::new();
    for (url, path) in &s.context_files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("ngsi.context_files: cannot read {}", path.display()))?;
        serde_json::from_str::<serde_json::Value>(&text)
            .with_context(|| format!("ngsi.context_files: {} is not JSON", path.display()))?;
        preload.push((url.clone(), text));
    }
    if let Some(d) = &s.anonymous_as {
        anyhow::ensure!(gov.departments().iter().any(|x| &x.id == d), "ngsi.anonymous_as: no department {d:?}");
    }
    let g = gov.clone();
    let cfg = ngsi::NgsiConfig {
        db_path: Some(data_dir.join("ngsi.sqlite")),
        contexts: ngsi::ContextConfig {
            allow: s.context_allow.clone().unwrap_or_else(|| vec!["http://127.0.0.1:".into(), "http://localhost:".into()]),
            preload,
            fetch_timeout_s: 5.0,
        },
        tenants: Some(Arc::new(move |t: &str| g.departments().iter().any(|d| d.id == t))),
        notify_allow: s.notify_allow.clone(),
        brain_entities: s.brain_entities.unwrap_or(true),
        temporal_max_instances: s.temporal_max_instances.unwrap_or(1000).max(1),
        ..Default::default()
    };
    ngsi::Ngsi::install(b, cfg).map_err(|e| anyhow::anyhow!("ngsi: {e}"))
}
