//! Errors of the control layer.

/// Everything that can go wrong when setting up control or evaluating a controller.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ControlError {
    /// A phase lets two crossing movements go at once.
    #[error("intersection {intersection:?}: phase {phase} gives green to conflicting movements {a} and {b}")]
    ConflictingPhase { intersection: String, phase: usize, a: String, b: String },
    /// A phase mask has the wrong number of flags for its intersection.
    #[error("intersection {intersection:?}: phase {phase} has {got} movement flags, expected {expected}")]
    PhaseLength { intersection: String, phase: usize, got: usize, expected: usize },
    /// A policy name that [`crate::policy::cli_name`] does not know.
    #[error("unknown policy {0:?}; expected one of {names}", names = crate::policy::CLI_NAMES.join(", "))]
    UnknownPolicy(String),
    /// A timing value that is negative, not a number, or inconsistent.
    #[error("timing field {field}: {message}")]
    BadTiming { field: &'static str, message: String },
    /// A request names an intersection the safety layer does not control.
    #[error("intersection {0} is not signal-controlled")]
    NotControlled(city::IntersectionId),
}
