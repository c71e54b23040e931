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
