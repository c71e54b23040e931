//! How a signalised intersection is described to signal engineers' tools: NEMA phase
//! numbers for its movements and the virtual detectors of its approach lanes, with the
//! channel numbers an ATSPM event log refers to.
//!
//! ## NEMA numbering
//! Each incoming road gets an approach (N/E/S/W) from the heading of the chord from its
//! first to its last point ([`chord_approach`]).
//! When every incoming road has its own approach (at most four, the junctions NEMA
//! describes), the major axis is E–W unless the N–S roads have more lanes; going
//! clockwise from the major axis (West, North, East, South for E–W; North, East, South,
//! West for N–S) the approaches' through movements are phases 2, 4, 6 and 8, and each
//! approach's left turn is its through phase + 3 (mod 8): 5, 7, 1, 3. So phase 1 is
//! the left turn that opposes phase 2, as in the standard dual-ring diagram. An
//! approach without a through movement (the stem of a T) gives its left turn the
//! through number. Right turns carry their approach's through number but never decide
//! whether a phase is green: the twin lets them go in every stage.
//! Junctions NEMA does not describe (two roads from one approach, more than four
//! arms) number the extra approaches from 9 upward, through then left.
//!
//! ## Detectors
//! Every lane of an incoming road has a stop-bar presence zone (`Presence`, the last
//! [`DetectorLayout::presence_m`] metres before the stop line) on channel `c`, and an
//! advance zone (`Advance`, [`DetectorLayout::zone_m`] long, its downstream edge
//! [`DetectorLayout::advance_m`] before the stop line, moved closer on short lanes) on
//! channel `n + c`, where `n` is the number of approach lanes and `c` counts them from
//! 1 in the order of the intersection's roads, lanes inside out. A detector's phase is
//! the phase of the lane's through movement, else its left turn, else its right turn.

use crate::ids::{IntersectionId, LaneId, MovementId, RoadId};
use crate::network::Network;
use crate::spec::Turn;

/// The arm a movement arrives from (a vehicle on the North approach drives south).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Approach {
    North,
    East,
    South,
    West,
}

impl Approach {
    pub fn is_north_south(self) -> bool {
        matches!(self, Approach::North | Approach::South)
    }
    pub fn opposite(self) -> Approach {
        match self {
            Approach::North => Approach::South,
            Approach::South => Approach::North,
            Approach::East => Approach::West,
            Approach::West => Approach::East,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Approach::North => "N",
            Approach::East => "E",
            Approach::South => "S",
            Approach::West => "W",
        }
    }
}

/// The approach of an incoming road, from the heading of the last segment of its centre
/// line: a road heading mostly south arrives from the North, and so on. (What the
/// signal policies' phase sets use.)
pub fn approach_of(net: &Network, road: RoadId) -> Approach {
    let pts = &net.road(road).points;
    let n = pts.len();
    let d = if n >= 2 { pts[n - 1] - pts[n - 2] } else { crate::Point::new(1.0, 0.0) };
    heading_approach(d)
}

/// The approach of an incoming road for NEMA numbering: from the heading of the chord
/// from its first to its last point, which a kinked last segment (CBEngine's drawn
/// roads, OSM's short pieces at a junction) does not turn.
pub fn chord_approach(net: &Network, road: RoadId) -> Approach {
    let pts = &net.road(road).points;
    let d = match (pts.first(), pts.last()) {
        (Some(&a), Some(&b)) if pts.len() >= 2 => b - a,
        _ => crate::Point::new(1.0, 0.0),
    };
    heading_approach(d)
}

fn heading_approach(d: crate::Point) -> Approach {
    if d.x.abs() >= d.y.abs() {
        if d.x >= 0.0 {
            Approach::West
        } else {
            Approach::East
        }
    } else if d.y >= 0.0 {
        Approach::South
    } else {
        Approach::North
    }
}

/// One NEMA phase of an intersection.
#[derive(Clone, Debug, PartialEq)]
pub struct NemaPhase {
    /// NEMA phase number (1..=8 on a standard junction, 9 and up for extra approaches).
    pub phase: u8,
    pub road: RoadId,
    pub approach: Approach,
    /// `Straight` for a through phase, `Left` for a left-turn phase.
    pub turn: Turn,
    /// Local indices of the movements that decide whether the phase is green (no right turns).
    pub movements: Vec<usize>,
}

/// The NEMA numbering of one intersection's movements (see the module docs).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Nema {
    /// Per local movement, its phase number (right turns: their approach's through phase).
    pub movement_phase: Vec<u8>,
    /// The phases with at least one movement that is not a right turn, by number.
    pub phases: Vec<NemaPhase>,
    /// Whether the junction has the standard layout (every phase number 1..=8).
    pub standard: bool,
}

impl Nema {
    /// The NEMA numbering of intersection `i` (empty for one without movements).
    pub fn of(net: &Network, i: IntersectionId) -> Nema {
        let inter = net.intersection(i);
        let incoming: Vec<RoadId> = inter.roads.iter().copied().filter(|&r| net.road(r).to == i).collect();
        let mut approaches: Vec<(RoadId, Approach)> = incoming.iter().map(|&r| (r, chord_approach(net, r))).collect();
        // Only roads some movement leaves from take part.
        approaches.retain(|(r, _)| inter.movements.iter().any(|&m| net.movement(m).from_road == *r));
        let mut seen = std::collections::BTreeSet::new();
        let standard = approaches.iter().all(|(_, a)| seen.insert(*a));
        let lanes = |ns: bool| -> usize {
            approaches.iter().filter(|(_, a)| a.is_north_south() == ns).map(|(r, _)| net.road(*r).lane_count as usize).sum()
        };
        let order = if lanes(true) > lanes(false) {
            [Approach::North, Approach::East, Approach::South, Approach::West]
        } else {
            [Approach::West, Approach::North, Approach::East, Approach::South]
        };
        // (through, left) phase numbers per incoming road, in `approaches` order.
        let mut used = std::collections::BTreeSet::new();
        let mut numbers: Vec<(u8, u8)> = Vec::with_capacity(approaches.len());
        let mut next_extra = 9u8;
        for (_, a) in &approaches {
            let k = order.iter().position(|o| o == a).expect("every approach is in the order") as u8;
            let through = 2 + 2 * k;
            let left = (through + 2) % 8 + 1;
            if used.insert(through) {
                numbers.push((through, left));
            } else {
                let t = next_extra;
                next_extra = next_extra.saturating_add(2);
                numbers.push((t, t.saturating_add(1)));
            }
        }
        let n = inter.movements.len();
        let mut movement_phase = vec![0u8; n];
        let mut phases: Vec<NemaPhase> = Vec::new();
        for (k, &m) in inter.movements.iter().enumerate() {
            let mv = net.movement(m);
            let Some(a) = approaches.iter().position(|(r, _)| *r == mv.from_road) else { continue };
            let (through, left) = numbers[a];
            let has_through = inter
                .movements
                .iter()
                .any(|&o| net.movement(o).from_road == mv.from_road && net.movement(o).turn == Turn::Straight);
            let (phase, turn) = match mv.turn {
                Turn::Straight | Turn::Right => (through, Turn::Straight),
                Turn::Left if has_through => (left, Turn::Left),
                Turn::Left => (through, Turn::Straight),
            };
            movement_phase[k] = phase;
            if mv.turn == Turn::Right {
                continue;
            }
            match phases.iter_mut().find(|p| p.phase == phase) {
                Some(p) => p.movements.push(k),
                None => phases.push(NemaPhase { phase, road: mv.from_road, approach: approaches[a].1, turn, movements: vec![k] }),
            }
        }
        phases.sort_by_key(|p| p.phase);
        Nema { movement_phase, phases, standard }
    }

    /// The phases green under `green` (one flag per local movement), in number order.
    pub fn green_phases<'a>(&'a self, green: impl Fn(usize) -> bool + 'a) -> impl Iterator<Item = u8> + 'a {
        self.phases.iter().filter(move |p| p.movements.iter().any(|&k| green(k))).map(|p| p.phase)
    }
}

/// What a detector is for, in ATSPM's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DetectorFunction {
    /// Stop-bar presence zone.
    Presence,
    /// Advance count zone upstream of the stop bar.
    Advance,
}

impl DetectorFunction {
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorFunction::Presence => "Presence",
            DetectorFunction::Advance => "Advance",
        }
    }
}

/// Where the virtual detectors sit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DetectorLayout {
    /// Length of the stop-bar presence zone, metres (about 20 ft in the field).
    pub presence_m: f64,
    /// Distance of the advance zone's downstream edge from the stop line, metres.
    pub advance_m: f64,
    /// Length of the advance zone, metres.
    pub zone_m: f64,
}

impl Default for DetectorLayout {
    fn default() -> Self {
        DetectorLayout { presence_m: 6.0, advance_m: 100.0, zone_m: 2.0 }
    }
}

impl DetectorLayout {
    /// Reject negative, non-finite or zero-length values, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        for (field, v, zero_ok) in
            [("presence_m", self.presence_m, false), ("advance_m", self.advance_m, true), ("zone_m", self.zone_m, false)]
        {
            if !v.is_finite() || v < 0.0 || (!zero_ok && v == 0.0) {
                return Err(format!(
                    "{field}: must be a {} number of metres, got {v}",
                    if zero_ok { "non-negative" } else { "positive" }
                ));
            }
        }
        Ok(())
    }
}

/// One virtual detector of an intersection.
#[derive(Clone, Debug, PartialEq)]
pub struct Detector {
    /// 1-based channel: the `Parameter` of its ATSPM events 81/82.
    pub channel: u32,
    pub lane: LaneId,
    pub function: DetectorFunction,
    /// NEMA phase it calls (0 when the lane has no movement).
    pub phase: u8,
    /// Distance of the zone's downstream edge from the stop line, metres.
    pub distance_m: f64,
    /// Zone length, metres.
    pub length_m: f64,
}

impl Detector {
    /// The zone as distances along its lane, `(start, end)`.
    pub fn zone(&self, lane_length: f64) -> (f64, f64) {
        let end = (lane_length - self.distance_m).max(0.0);
        ((end - self.length_m).max(0.0), end)
    }
}

/// The detectors of intersection `i` (empty when it has no incoming lane), by channel.
pub fn detectors(net: &Network, i: IntersectionId, nema: &Nema, layout: &DetectorLayout) -> Vec<Detector> {
    let inter = net.intersection(i);
    let lanes: Vec<LaneId> = inter.roads.iter().filter(|&&r| net.road(r).to == i).flat_map(|&r| net.road(r).lanes()).collect();
    let n = lanes.len() as u32;
    let phase_of = |l: LaneId| -> u8 {
        let mut best: Option<(u8, u8)> = None;
        for (k, &m) in inter.movements.iter().enumerate() {
            let mv = net.movement(m);
            if !mv.lane_links.iter().any(|&ll| net.lane_link(ll).from_lane == l) {
                continue;
            }
            let rank = match mv.turn {
                Turn::Straight => 0,
                Turn::Left => 1,
                Turn::Right => 2,
            };
            let p = nema.movement_phase.get(k).copied().unwrap_or(0);
            if best.is_none_or(|(r, _)| rank < r) {
                best = Some((rank, p));
            }
        }
        best.map_or(0, |(_, p)| p)
    };
    let mut out = Vec::with_capacity(2 * lanes.len());
    for (c, &l) in lanes.iter().enumerate() {
        let phase = phase_of(l);
        out.push(Detector {
            channel: c as u32 + 1,
            lane: l,
            function: DetectorFunction::Presence,
            phase,
            distance_m: 0.0,
            length_m: layout.presence_m,
        });
    }
    for (c, &l) in lanes.iter().enumerate() {
        let len = net.lane(l).length;
        // On a lane too short for the configured distance the zone moves to its start.
        let distance_m = layout.advance_m.min((len - layout.zone_m).max(0.0));
        out.push(Detector {
            channel: n + c as u32 + 1,
            lane: l,
            function: DetectorFunction::Advance,
            phase: phase_of(l),
            distance_m,
            length_m: layout.zone_m,
        });
    }
    out
}

/// Local index of movement `m` in its intersection.
pub fn local_index(net: &Network, m: MovementId) -> usize {
    net.movement(m).local as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::cbengine;
    use crate::testutil::{CBENGINE_CROSS_FLOW, CBENGINE_CROSS_ROADNET};

    fn grid() -> Network {
        cbengine::load_scenario_named(CBENGINE_CROSS_ROADNET, CBENGINE_CROSS_FLOW, "roadnet.txt", "flow.txt")
            .expect("the cross loads")
            .network
    }

    #[test]
    fn four_arm_junctions_get_the_standard_numbers() {
        let net = grid();
        let mut checked = 0;
        for (i, inter) in net.intersections.iter().enumerate() {
            if !inter.is_signalised() {
                continue;
            }
            let id = IntersectionId(i as u32);
            let nema = Nema::of(&net, id);
            assert!(nema.standard);
            for (k, &m) in inter.movements.iter().enumerate() {
                let mv = net.movement(m);
                let a = chord_approach(&net, mv.from_road);
                let p = nema.movement_phase[k];
                match mv.turn {
                    Turn::Straight | Turn::Right => assert!(p.is_multiple_of(2) && (2..=8).contains(&p), "{p}"),
                    Turn::Left => assert!(p % 2 == 1 && (1..=7).contains(&p), "{p}"),
                }
                // Opposing throughs are 4 apart; a left opposes the through numbered one above it.
                if mv.turn == Turn::Straight {
                    let opp = inter.movements.iter().position(|&o| {
                        net.movement(o).turn == Turn::Straight && chord_approach(&net, net.movement(o).from_road) == a.opposite()
                    });
                    if let Some(o) = opp {
                        assert_eq!((p + 4 - 1) % 8 + 1, nema.movement_phase[o]);
                    }
                }
            }
            // Every phase number appears once.
            let nums: Vec<u8> = nema.phases.iter().map(|p| p.phase).collect();
            assert_eq!(nums, vec![1, 2, 3, 4, 5, 6, 7, 8]);
            let dets = detectors(&net, id, &nema, &DetectorLayout::default());
            let lanes = dets.len() / 2;
            assert!(dets.iter().take(lanes).all(|d| d.function == DetectorFunction::Presence && d.distance_m == 0.0));
            assert!(dets.iter().skip(lanes).all(|d| d.function == DetectorFunction::Advance && d.distance_m > 0.0));
            assert!(dets.iter().enumerate().all(|(c, d)| d.channel == c as u32 + 1 && d.phase >= 1));
            checked += 1;
        }
        assert!(checked > 0);
    }

    #[test]
    fn layouts_with_bad_numbers_are_refused_by_name() {
        let bad = DetectorLayout { advance_m: f64::NAN, ..Default::default() };
        assert!(bad.validate().unwrap_err().starts_with("advance_m"));
        let bad = DetectorLayout { presence_m: 0.0, ..Default::default() };
        assert!(bad.validate().unwrap_err().starts_with("presence_m"));
        assert!(DetectorLayout::default().validate().is_ok());
    }
}
