//! Importers and exporters for scenario files. Every importer takes file *contents*
//! (`&str`), never a path: the caller reads the file and passes its name for error
//! messages, which keeps this crate free of IO.
//!
//! - [`cityflow`]: CityFlow roadnet + flow JSON, read and written.
//! - [`cbengine`]: the KDD Cup 2021 City Brain Challenge `roadnet.txt` / `flow.txt`.
//! - [`sumo`]: SUMO `.net.xml` networks and `.rou.xml` routes (read only).
//!
//! Errors are [`ImportError`]s that name the file and the JSON path or line.

pub mod cbengine;
pub mod cityflow;
pub mod sumo;
mod sumo_cfg;
mod sumo_demand;
mod sumo_geo;
mod sumo_router;
mod xml;

use crate::network::BuildError;

/// A problem in an input file, located by the file name and a JSON path or line number.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{file}: {location}: {message}")]
pub struct ImportError {
    pub file: String,
    /// A JSON path such as `intersections[3].roadLinks[2].startRoad`, or `line 17`.
    pub location: String,
    pub message: String,
}

impl ImportError {
    pub fn new(file: &str, location: impl Into<String>, message: impl Into<String>) -> ImportError {
        ImportError { file: file.to_string(), location: location.into(), message: message.into() }
    }
    /// Attach a file name to a network or demand validation error.
    pub fn from_build(file: &str, e: BuildError) -> ImportError {
        ImportError { file: file.to_string(), location: e.path, message: e.message }
    }
}
