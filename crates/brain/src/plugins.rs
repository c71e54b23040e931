//! Plug-ins that ship with the runtime. Capabilities with more weight (incidents,
//! corridors, NGSI-LD, governance) get crates of their own.

mod congestion;

pub use congestion::{CongestionWatch, CongestionWatchConfig};
