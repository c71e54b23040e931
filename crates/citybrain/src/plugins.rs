//! The one place where capability plug-ins are registered with the runtime. A new
//! capability is a crate of its own implementing [`brain::Plugin`], and one line here.

use brain::plugins::{CongestionWatch, CongestionWatchConfig};
use brain::Brain;

/// Register every plug-in the live brain runs.
pub fn register(b: &Brain) {
    b.register(Box::new(CongestionWatch::new(CongestionWatchConfig::default())));
}
