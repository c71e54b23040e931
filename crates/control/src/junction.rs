//! Static description of each signalised intersection as the control layer sees it:
//! movements with their approach, turn and lanes, the conflict relation, and the
//! candidate phases policies choose from. Also plan validation.

use city::{IntersectionId, LaneId, MovementId, Network, Turn};

use crate::ControlError;

pub use city::signal::{approach_of, Approach};

/// A readable name for a movement: `road_a -> road_b (left)`.
pub fn movement_label(net: &Network, m: MovementId) -> String {
    let mv = net.movement(m);
    let turn = match mv.turn {
        Turn::Left => "left",
        Turn::Right => "right",
        Turn::Straight => "straight",
    };
    format!("{} -> {} ({turn})", net.road(mv.from_road).name, net.road(mv.to_road).name)
}

/// Whether two movements of one intersection may not have green together: their paths
/// cross inside the junction (`Network::movements_conflict`, which already excludes
/// movements sharing a from- or to-road), except that right turns never conflict
/// (they are always allowed), opposing left turns run together (NEMA dual left), and
/// pairs that some phase of the roadnet's own plan runs together are compatible (on
/// skewed Nanchang junctions the geometric approach test does not always recognise
/// the plan's dual-left pairs as opposing).
pub fn movements_conflict(net: &Network, a: MovementId, b: MovementId) -> bool {
    let (ma, mb) = (net.movement(a), net.movement(b));
    if ma.turn == Turn::Right || mb.turn == Turn::Right || ma.intersection != mb.intersection {
        return false;
    }
    let (la, lb) = (ma.local as usize, mb.local as usize);
    if net.intersection(ma.intersection).phases.iter().any(|p| p.green.get(la) == Some(&true) && p.green.get(lb) == Some(&true)) {
        return false;
    }
    if ma.turn == Turn::Left
        && mb.turn == Turn::Left
        && approach_of(net, ma.from_road) == approach_of(net, mb.from_road).opposite()
    {
        return false;
    }
    net.movements_conflict(a, b)
}

/// Check that no phase of `phases` (green masks by local movement index) of
/// intersection `i` gives green to two conflicting movements.
pub fn validate_plan(net: &Network, i: IntersectionId, phases: &[Vec<bool>]) -> Result<(), ControlError> {
    let inter = net.intersection(i);
    let n = inter.movements.len();
    for (p, mask) in phases.iter().enumerate() {
        if mask.len() != n {
            return Err(ControlError::PhaseLength { intersection: inter.name.clone(), phase: p, got: mask.len(), expected: n });
        }
        for a in 0..n {
            for b in a + 1..n {
                if mask[a] && mask[b] && movements_conflict(net, inter.movements[a], inter.movements[b]) {
                    return Err(ControlError::ConflictingPhase {
                        intersection: inter.name.clone(),
                        phase: p,
                        a: movement_label(net, inter.movements[a]),
                        b: movement_label(net, inter.movements[b]),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Which candidate phases policies choose from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhaseSet {
    /// Four phases: E–W through, N–S through, E–W left, N–S left (right turns in all).
    Four,
    /// The roadnet's own plan phases that serve a non-right movement (right turns added).
    Plan,
}

/// A signalised intersection as the control layer sees it. Local movement `k` is
/// `movements[k]`, the same indexing as the twin's green masks.
#[derive(Clone, Debug)]
pub struct Junction {
    pub id: IntersectionId,
    pub name: String,
    pub movements: Vec<MovementId>,
    pub turns: Vec<Turn>,
    pub approaches: Vec<Approach>,
    /// Lanes vehicles take the movement from.
    pub in_lanes: Vec<Vec<LaneId>>,
    /// Lanes the movement leads to.
    pub out_lanes: Vec<Vec<LaneId>>,
    /// Movements green in every state (right turns).
    pub always: Vec<bool>,
    /// Candidate phases (green masks, right turns included).
    pub phases: Vec<Vec<bool>>,
    conflict: Vec<bool>,
}

impl Junction {
    /// Describe intersection `i`, with candidate phases from `set`. Errors when a
    /// candidate phase fails [`validate_plan`].
    pub fn new(net: &Network, i: IntersectionId, set: PhaseSet) -> Result<Junction, ControlError> {
        let inter = net.intersection(i);
        let movements = inter.movements.clone();
        let n = movements.len();
        let mvs: Vec<_> = movements.iter().map(|&m| net.movement(m)).collect();
        let turns: Vec<Turn> = mvs.iter().map(|m| m.turn).collect();
        let approaches: Vec<Approach> = mvs.iter().map(|m| approach_of(net, m.from_road)).collect();
        let dedup = |mut v: Vec<LaneId>| {
            v.sort();
            v.dedup();
            v
        };
        let in_lanes = mvs.iter().map(|m| dedup(m.lane_links.iter().map(|&ll| net.lane_link(ll).from_lane).collect())).collect();
        let out_lanes = mvs.iter().map(|m| dedup(m.lane_links.iter().map(|&ll| net.lane_link(ll).to_lane).collect())).collect();
        let always: Vec<bool> = turns.iter().map(|&t| t == Turn::Right).collect();
        let mut conflict = vec![false; n * n];
        for a in 0..n {
            for b in 0..n {
                conflict[a * n + b] = movements_conflict(net, movements[a], movements[b]);
            }
        }
        let serves = |mask: &Vec<bool>| mask.iter().zip(&always).any(|(&g, &r)| g && !r);
        let mut phases: Vec<Vec<bool>> = match set {
            PhaseSet::Four => {
                let make = |ns: bool, turn: Turn| -> Vec<bool> {
                    (0..n).map(|k| always[k] || (turns[k] == turn && approaches[k].is_north_south() == ns)).collect()
                };
                vec![make(false, Turn::Straight), make(true, Turn::Straight), make(false, Turn::Left), make(true, Turn::Left)]
            }
            PhaseSet::Plan => inter
                .phases
                .iter()
                .map(|p| (0..n).map(|k| always[k] || p.green.get(k).copied().unwrap_or(false)).collect())
                .collect(),
        };
        phases.retain(serves);
        phases.dedup();
        if phases.is_empty() {
            phases.push(always.clone());
        }
        validate_plan(net, i, &phases)?;
        Ok(Junction {
            id: i,
            name: inter.name.clone(),
            movements,
            turns,
            approaches,
            in_lanes,
            out_lanes,
            always,
            phases,
            conflict,
        })
    }

    /// Number of movements.
    pub fn len(&self) -> usize {
        self.movements.len()
    }
    pub fn is_empty(&self) -> bool {
        self.movements.is_empty()
    }
    /// Whether local movements `a` and `b` conflict.
    pub fn conflicts(&self, a: usize, b: usize) -> bool {
        self.conflict[a * self.len() + b]
    }
    /// The first conflicting pair a green mask contains, if any.
    pub fn mask_conflict(&self, mask: &[bool]) -> Option<(usize, usize)> {
        let n = self.len().min(mask.len());
        for a in 0..n {
            if !mask[a] {
                continue;
            }
            if let Some(b) = (a + 1..n).find(|&b| mask[b] && self.conflicts(a, b)) {
                return Some((a, b));
            }
        }
        None
    }
}

/// Every signalised intersection of `net`, in id order.
pub fn junctions(net: &Network, set: PhaseSet) -> Result<Vec<Junction>, ControlError> {
    (0..net.intersections.len())
        .map(IntersectionId::from)
        .filter(|&i| net.intersection(i).is_signalised())
        .map(|i| Junction::new(net, i, set))
        .collect()
}
