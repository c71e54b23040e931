//! Movements, lane links and fixed-time plans of one generated junction.
//!
//! Legs are indexed by compass direction (east, north, west, south, counter-clockwise).
//! Traffic drives on the right, so a vehicle arriving from leg `a` turns left into leg
//! `a + 3`, goes straight into `a + 2` and turns right into `a + 1` (mod 4).

use super::layout::{opposite, step, Leg, LANE_WIDTH};
use city::geom::Point;
use city::spec::{LaneLinkSpec, MovementSpec, PhaseSpec, Turn};

/// The three turns in movement order.
const TURNS: [Turn; 3] = [Turn::Left, Turn::Straight, Turn::Right];
/// Right-turns-only clearance between green phases, seconds.
pub(super) const CLEARANCE_S: f64 = 4.0;
/// Protected-left green, seconds.
const LEFT_GREEN_S: f64 = 15.0;

/// The leg a movement of `turn` from approach `a` leaves by.
fn target(a: usize, turn: Turn) -> usize {
    match turn {
        Turn::Left => (a + 3) % 4,
        Turn::Straight => opposite(a),
        Turn::Right => (a + 1) % 4,
    }
}

/// Through (or approach) green for approaches with `lanes` lanes: 18 s for one lane,
/// 26 s for two, 34 s for three.
fn green_len(lanes: usize) -> f64 {
    (10.0 + 8.0 * lanes as f64).clamp(15.0, 40.0)
}

/// Start lanes of a movement on an approach with `n` lanes; `has` says which of
/// left/straight/right the approach offers. Lane 0 turns left, the middle lanes go
/// straight, the outermost lane goes straight and right; a lane that would be idle
/// because its turn is missing serves the neighbouring turn instead.
fn start_lanes(n: usize, turn: Turn, has: [bool; 3]) -> std::ops::Range<usize> {
    if n <= 1 {
        return 0..1;
    }
    let [left, straight, _] = has;
    match turn {
        Turn::Left if straight => 0..1,
        Turn::Left => 0..n - 1,
        Turn::Straight if left => 1..n,
        Turn::Straight => 0..n,
        Turn::Right => n - 1..n,
    }
}

/// Segments of a generated lane-link curve. CityFlow samples its Bézier at 10
/// segments; 4 stay within about 0.2 m of the curve (lengths within 1 %) and make the
/// crossing-point search of [`city::Network::build`] (quadratic in segments) six times cheaper.
const LINK_SEGMENTS: usize = 4;

/// Where lane `k` of the road on leg `leg` meets the junction box of half-size `width`
/// centred on `at`; `inbound` for the road arriving from that leg. Mirrors the
/// builder: the centre line is trimmed by `width`, lanes are offset to the right.
fn lane_end(at: Point, width: f64, leg: usize, k: usize, inbound: bool) -> Point {
    let heading = if inbound { step(opposite(leg)) } else { step(leg) };
    let right = Point::new(heading.y, -heading.x);
    at + step(leg) * width + right * ((k as f64 + 0.5) * LANE_WIDTH)
}

/// CityFlow's lane-link curve ([`city::geom::lane_link_bezier`]) from lane
/// `from_lane` arriving on leg `a` to lane `to_lane` leaving on leg `b`.
fn link_points(at: Point, width: f64, (a, from_lane): (usize, usize), (b, to_lane): (usize, usize)) -> Vec<Point> {
    let start = lane_end(at, width, a, from_lane, true);
    let end = lane_end(at, width, b, to_lane, false);
    city::geom::lane_link_bezier(start, step(opposite(a)), end, step(b), width, LINK_SEGMENTS, false)
}

/// Movements and plan of a junction at `at` with box half-size `width` and the given
/// legs. `lanes[a]` is the lane count of the road arriving from leg `a` (0 if none);
/// `out_lanes(road)` gives a road's lanes.
pub(super) fn plan(
    at: Point,
    width: f64,
    legs: &[Option<Leg>; 4],
    lanes: &[usize; 4],
    out_lanes: impl Fn(usize) -> usize,
) -> (Vec<MovementSpec>, Vec<PhaseSpec>) {
    // idx[a][t]: local index of the movement of turn TURNS[t] from approach a.
    let mut idx = [[None::<usize>; 3]; 4];
    let mut movements = Vec::new();
    for a in 0..4 {
        let Some(leg) = legs[a] else { continue };
        let has = TURNS.map(|t| legs[target(a, t)].is_some());
        for (t, &turn) in TURNS.iter().enumerate() {
            let b = target(a, turn);
            let Some(out) = legs[b] else { continue };
            let to_lanes = out_lanes(out.out_road);
            let lane_links = start_lanes(lanes[a], turn, has)
                .flat_map(|from_lane| {
                    (0..to_lanes).map(move |to_lane| LaneLinkSpec {
                        from_lane,
                        to_lane,
                        points: link_points(at, width, (a, from_lane), (b, to_lane)),
                    })
                })
                .collect();
            idx[a][t] = Some(movements.len());
            movements.push(MovementSpec { turn, from_road: leg.in_road, to_road: out.out_road, lane_links });
        }
    }
    let rights: Vec<usize> = idx.iter().filter_map(|m| m[2]).collect();
    let approach_all = |a: usize| idx[a][..2].iter().flatten().copied().collect::<Vec<_>>();

    let mut greens: Vec<(Vec<usize>, f64)> = Vec::new();
    for axis in [[0, 2], [1, 3]] {
        let apps: Vec<usize> = axis.into_iter().filter(|&a| idx[a].iter().any(Option::is_some)).collect();
        match apps[..] {
            [x, y] if lanes[x] >= 2 && lanes[y] >= 2 => {
                // Through phase, then each approach's protected left together with its
                // own through (CityFlow's "straight + left" phases). Opposing lefts do
                // not share a phase: their lane links cross inside the junction box.
                let through: Vec<usize> = apps.iter().filter_map(|&a| idx[a][1]).collect();
                if !through.is_empty() {
                    greens.push((through, green_len(lanes[x].max(lanes[y]))));
                }
                for a in [x, y] {
                    if idx[a][0].is_some() {
                        greens.push((approach_all(a), LEFT_GREEN_S));
                    }
                }
            }
            _ => {
                // Split phasing: each approach on its own.
                for a in apps {
                    greens.push((approach_all(a), green_len(lanes[a])));
                }
            }
        }
    }
    let mut phases = Vec::with_capacity(2 * greens.len());
    for (mut g, duration) in greens {
        phases.push(PhaseSpec { duration: CLEARANCE_S, movements: rights.clone() });
        g.extend(&rights);
        g.sort_unstable();
        g.dedup();
        phases.push(PhaseSpec { duration, movements: g });
    }
    (movements, phases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_use() {
        let all = [true; 3];
        assert_eq!(start_lanes(1, Turn::Left, all), 0..1);
        assert_eq!(start_lanes(3, Turn::Left, all), 0..1);
        assert_eq!(start_lanes(3, Turn::Straight, all), 1..3);
        assert_eq!(start_lanes(3, Turn::Right, all), 2..3);
        // T-junction approaches: no left, or no straight.
        assert_eq!(start_lanes(2, Turn::Straight, [false, true, true]), 0..2);
        assert_eq!(start_lanes(3, Turn::Left, [true, false, true]), 0..2);
    }

    #[test]
    fn four_leg_two_lane_plan_has_six_greens_and_clearances() {
        let legs = [0, 1, 2, 3].map(|a| Some(Leg { in_road: 2 * a, out_road: 2 * a + 1 }));
        let (movements, phases) = plan(Point::default(), 10.0, &legs, &[2; 4], |_| 2);
        assert_eq!(movements.len(), 12);
        assert_eq!(phases.len(), 12);
        for (k, p) in phases.iter().enumerate() {
            let turns: Vec<Turn> = p.movements.iter().map(|&m| movements[m].turn).collect();
            if k % 2 == 0 {
                assert!(turns.iter().all(|&t| t == Turn::Right) && turns.len() == 4, "clearance {k}: {turns:?}");
                assert_eq!(p.duration, CLEARANCE_S);
            } else {
                assert!(p.duration >= 15.0 && p.duration <= 40.0);
                let lefts = turns.iter().filter(|&&t| t == Turn::Left).count();
                let throughs = turns.iter().filter(|&&t| t == Turn::Straight).count();
                assert_eq!(turns.len() - lefts - throughs, 4, "all rights");
                assert!((lefts, throughs) == (0, 2) || (lefts, throughs) == (1, 1), "{turns:?}");
            }
        }
    }
}
