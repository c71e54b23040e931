//! The validated observation model. Every value here has passed [`crate::validate()`]:
//! names are resolved to typed network ids, numbers are finite and in range, tokens are
//! pseudonymous. Serde-free; the wire form lives in [`crate::wire`].

use city::{IntersectionId, LaneId, MovementId, Point, RoadId};

use crate::registry::SensorIdx;

/// One accepted observation: which sensor, when (city clock, seconds), and what.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub sensor: SensorIdx,
    /// Report time in seconds on the city clock (simulated seconds for the twin).
    pub time: f64,
    pub data: ObsData,
}

/// The payload of an observation, one variant per record kind.
#[derive(Clone, Debug, PartialEq)]
pub enum ObsData {
    Loop(LoopAggregate),
    Movement(MovementCount),
    Queue(QueueReading),
    Plate(PlateRead),
    Probe(ProbeFix),
    Signal(SignalEvent),
    Report(CitizenReport),
}

impl ObsData {
    /// The wire `kind` string of this payload.
    pub fn kind(&self) -> RecordKind {
        match self {
            ObsData::Loop(_) => RecordKind::Loop,
            ObsData::Movement(_) => RecordKind::Movement,
            ObsData::Queue(_) => RecordKind::Queue,
            ObsData::Plate(_) => RecordKind::Plate,
            ObsData::Probe(_) => RecordKind::Probe,
            ObsData::Signal(_) => RecordKind::Signal,
            ObsData::Report(_) => RecordKind::Report,
        }
    }
}

/// Record kinds as they appear in the wire `kind` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    Loop,
    Movement,
    Queue,
    Plate,
    Probe,
    Signal,
    Report,
}

impl RecordKind {
    pub const ALL: [RecordKind; 7] = [
        RecordKind::Loop,
        RecordKind::Movement,
        RecordKind::Queue,
        RecordKind::Plate,
        RecordKind::Probe,
        RecordKind::Signal,
        RecordKind::Report,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Loop => "loop",
            RecordKind::Movement => "movement",
            RecordKind::Queue => "queue",
            RecordKind::Plate => "plate",
            RecordKind::Probe => "probe",
            RecordKind::Signal => "signal",
            RecordKind::Report => "report",
        }
    }

    pub fn parse(s: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Loop detector aggregate over `[start, end)` for one lane.
#[derive(Clone, Debug, PartialEq)]
pub struct LoopAggregate {
    pub lane: LaneId,
    pub road: RoadId,
    pub start: f64,
    pub end: f64,
    /// Vehicles that passed the loop in the interval.
    pub count: u32,
    /// Share of the interval the loop was covered, 0..=1.
    pub occupancy: f64,
    /// Mean spot speed of the passing vehicles, m/s; `None` when nobody passed.
    pub speed: Option<f64>,
}

/// Camera count of vehicles that made one movement during `[start, end)`.
#[derive(Clone, Debug, PartialEq)]
pub struct MovementCount {
    pub intersection: IntersectionId,
    pub movement: MovementId,
    pub from_road: RoadId,
    pub to_road: RoadId,
    pub start: f64,
    pub end: f64,
    pub count: u32,
}

/// Camera queue measurement on one approach road at the observation time.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueReading {
    pub intersection: IntersectionId,
    pub road: RoadId,
    /// Back of queue from the stop line, metres.
    pub queue_m: f64,
    /// Vehicles waiting (stopped) on the approach.
    pub waiting: u32,
}

/// A camera plate read: only the pseudonymised token, never a plate.
#[derive(Clone, Debug, PartialEq)]
pub struct PlateRead {
    pub intersection: IntersectionId,
    pub road: RoadId,
    pub token: String,
}

/// A probe vehicle GPS fix, in network metres.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeFix {
    pub token: String,
    pub pos: Point,
    /// m/s.
    pub speed: f64,
    /// Radians, atan2 convention (0 = +x, counter-clockwise).
    pub heading: f64,
}

/// Indiana / ATSPM high-resolution controller event codes that citybrain uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventCode {
    /// 1: phase begin green (param = phase).
    PhaseBeginGreen,
    /// 4: phase gap out (param = phase).
    PhaseGapOut,
    /// 5: phase max out (param = phase).
    PhaseMaxOut,
    /// 6: phase force off (param = phase).
    PhaseForceOff,
    /// 7: phase green termination (param = phase).
    PhaseGreenTermination,
    /// 8: phase begin yellow clearance (param = phase).
    PhaseBeginYellow,
    /// 9: phase end yellow clearance (param = phase).
    PhaseEndYellow,
    /// 10: phase begin red clearance (param = phase).
    PhaseBeginRedClearance,
    /// 11: phase end red clearance (param = phase).
    PhaseEndRedClearance,
    /// 43: phase call registered (param = phase).
    PhaseCallRegistered,
    /// 44: phase call dropped, served or removed (param = phase).
    PhaseCallDropped,
    /// 81: detector off (param = detector channel).
    DetectorOff,
    /// 82: detector on (param = detector channel).
    DetectorOn,
    /// 102: preempt call input on (param = preempt channel).
    PreemptCallOn,
    /// 104: preempt call input off (param = preempt channel).
    PreemptCallOff,
    /// 105: preempt entry started (param = preempt channel).
    PreemptEntryStarted,
    /// 107: preemption begin dwell service (param = preempt channel).
    PreemptBeginDwell,
    /// 111: preemption begin exit interval (param = preempt channel).
    PreemptBeginExit,
    /// 131: coordination pattern change (param = pattern number; 254 free, 255 flash).
    CoordPatternChange,
    /// 132: cycle length change (param = cycle length in seconds, 0 when free).
    CycleLengthChange,
}

/// What an event's parameter names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A NEMA phase of the controller.
    Phase,
    /// A detector channel of the controller.
    Detector,
    /// A preempt input, 1..=10.
    Preempt,
    /// A coordination pattern number, 0..=255.
    Pattern,
    /// A cycle length in seconds, 0..=MAX_CYCLE_S.
    CycleSeconds,
}

/// The longest cycle a 132 event may report, seconds.
pub const MAX_CYCLE_S: u32 = 999;

impl EventCode {
    pub fn code(self) -> u16 {
        match self {
            EventCode::PhaseBeginGreen => 1,
            EventCode::PhaseGapOut => 4,
            EventCode::PhaseMaxOut => 5,
            EventCode::PhaseForceOff => 6,
            EventCode::PhaseGreenTermination => 7,
            EventCode::PhaseBeginYellow => 8,
            EventCode::PhaseEndYellow => 9,
            EventCode::PhaseBeginRedClearance => 10,
            EventCode::PhaseEndRedClearance => 11,
            EventCode::PhaseCallRegistered => 43,
            EventCode::PhaseCallDropped => 44,
            EventCode::DetectorOff => 81,
            EventCode::DetectorOn => 82,
            EventCode::PreemptCallOn => 102,
            EventCode::PreemptCallOff => 104,
            EventCode::PreemptEntryStarted => 105,
            EventCode::PreemptBeginDwell => 107,
            EventCode::PreemptBeginExit => 111,
            EventCode::CoordPatternChange => 131,
            EventCode::CycleLengthChange => 132,
        }
    }

    pub fn from_code(c: u16) -> Option<EventCode> {
        Some(match c {
            1 => EventCode::PhaseBeginGreen,
            4 => EventCode::PhaseGapOut,
            5 => EventCode::PhaseMaxOut,
            6 => EventCode::PhaseForceOff,
            7 => EventCode::PhaseGreenTermination,
            8 => EventCode::PhaseBeginYellow,
            9 => EventCode::PhaseEndYellow,
            10 => EventCode::PhaseBeginRedClearance,
            11 => EventCode::PhaseEndRedClearance,
            43 => EventCode::PhaseCallRegistered,
            44 => EventCode::PhaseCallDropped,
            81 => EventCode::DetectorOff,
            82 => EventCode::DetectorOn,
            102 => EventCode::PreemptCallOn,
            104 => EventCode::PreemptCallOff,
            105 => EventCode::PreemptEntryStarted,
            107 => EventCode::PreemptBeginDwell,
            111 => EventCode::PreemptBeginExit,
            131 => EventCode::CoordPatternChange,
            132 => EventCode::CycleLengthChange,
            _ => return None,
        })
    }

    /// Every code, in code order.
    pub const ALL: [EventCode; 20] = [
        EventCode::PhaseBeginGreen,
        EventCode::PhaseGapOut,
        EventCode::PhaseMaxOut,
        EventCode::PhaseForceOff,
        EventCode::PhaseGreenTermination,
        EventCode::PhaseBeginYellow,
        EventCode::PhaseEndYellow,
        EventCode::PhaseBeginRedClearance,
        EventCode::PhaseEndRedClearance,
        EventCode::PhaseCallRegistered,
        EventCode::PhaseCallDropped,
        EventCode::DetectorOff,
        EventCode::DetectorOn,
        EventCode::PreemptCallOn,
        EventCode::PreemptCallOff,
        EventCode::PreemptEntryStarted,
        EventCode::PreemptBeginDwell,
        EventCode::PreemptBeginExit,
        EventCode::CoordPatternChange,
        EventCode::CycleLengthChange,
    ];

    /// What the event's parameter names.
    pub fn param_kind(self) -> ParamKind {
        if self.is_detector() {
            ParamKind::Detector
        } else if self.is_preempt() {
            ParamKind::Preempt
        } else {
            match self {
                EventCode::CoordPatternChange => ParamKind::Pattern,
                EventCode::CycleLengthChange => ParamKind::CycleSeconds,
                _ => ParamKind::Phase,
            }
        }
    }

    /// Whether the parameter is a detector channel (else a phase number).
    pub fn is_detector(self) -> bool {
        matches!(self, EventCode::DetectorOff | EventCode::DetectorOn)
    }

    /// Whether the parameter is a preempt channel (1..=10).
    pub fn is_preempt(self) -> bool {
        matches!(
            self,
            EventCode::PreemptCallOn
                | EventCode::PreemptCallOff
                | EventCode::PreemptEntryStarted
                | EventCode::PreemptBeginDwell
                | EventCode::PreemptBeginExit
        )
    }
}

/// A controller high-resolution event. Phases are NEMA phase numbers
/// ([`city::signal::Nema`]); detector channels are 1-based ([`city::signal::detectors`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SignalEvent {
    pub intersection: IntersectionId,
    pub code: EventCode,
    pub param: u32,
}

/// Categories a citizen report may have.
pub const REPORT_CATEGORIES: [&str; 6] = ["congestion", "accident", "signal-fault", "road-works", "hazard", "other"];

/// A citizen report (12345 hotline / app): category, location and free text.
#[derive(Clone, Debug, PartialEq)]
pub struct CitizenReport {
    /// One of [`REPORT_CATEGORIES`].
    pub category: String,
    /// Where, when given as a point (at least one of `pos` and `road` is set).
    pub pos: Option<Point>,
    /// The road it names, if it named one.
    pub road: Option<RoadId>,
    pub text: String,
}
