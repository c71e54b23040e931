//! The city's topology and geometry: grid junctions, street classes, removed segments,
//! boundary nodes, the optional ring road, and the conversion to a [`NetworkSpec`].

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::junction;
use super::GenConfig;
use city::geom::Point;
use city::spec::{IntersectionSpec, LaneSpec, NetworkSpec, RoadSpec};

/// Compass directions of a junction leg, counter-clockwise: east, north, west, south.
pub(super) const E: usize = 0;
pub(super) const N: usize = 1;
pub(super) const W: usize = 2;
pub(super) const S: usize = 3;

pub(super) fn opposite(d: usize) -> usize {
    (d + 2) % 4
}

pub(super) fn step(d: usize) -> Point {
    match d {
        E => Point::new(1.0, 0.0),
        N => Point::new(0.0, 1.0),
        W => Point::new(-1.0, 0.0),
        _ => Point::new(0.0, -1.0),
    }
}

pub(super) const LANE_WIDTH: f64 = 3.2;
const ARTERIAL_SPEED: f64 = 16.667;
const RING_SPEED: f64 = 19.444;

/// What kind of road a street is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Class {
    pub lanes: usize,
    pub speed: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Grid,
    Ring,
    Virtual,
}

/// One leg of a junction: the road arriving from that direction and the road leaving
/// towards it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Leg {
    pub in_road: usize,
    pub out_road: usize,
}

#[derive(Clone, Debug)]
pub(super) struct Node {
    pub name: String,
    pub point: Point,
    pub kind: Kind,
    pub legs: [Option<Leg>; 4],
}

#[derive(Clone, Debug)]
pub(super) struct Road {
    pub name: String,
    pub from: usize,
    pub to: usize,
    pub points: Vec<Point>,
    pub class: Class,
}

#[derive(Clone, Debug)]
pub(super) struct Layout {
    pub nodes: Vec<Node>,
    pub roads: Vec<Road>,
    /// Centre of the grid and the distance from it to the farthest grid junction.
    pub centre: Point,
    pub radius: f64,
}

/// Union-find over grid junctions, for the connectivity guard on removed segments.
struct Dsu(Vec<usize>);

impl Dsu {
    fn find(&mut self, mut a: usize) -> usize {
        while self.0[a] != a {
            self.0[a] = self.0[self.0[a]];
            a = self.0[a];
        }
        a
    }
    fn union(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        self.0[ra] = rb;
        true
    }
}

/// A grid segment between junction `a` and its neighbour `b` in direction `dir`.
#[derive(Clone, Copy, Debug)]
struct Segment {
    a: usize,
    b: usize,
    dir: usize,
}

impl Layout {
    pub(super) fn generate(cfg: &GenConfig, rng: &mut ChaCha8Rng) -> Layout {
        let (rows, cols) = (cfg.rows as usize, cfg.cols as usize);
        let block = cfg.block_m;
        let coords = |n: usize, rng: &mut ChaCha8Rng| {
            let mut v = vec![0.0; n];
            for k in 1..n {
                v[k] = v[k - 1] + (block * rng.gen_range(0.8..1.2)).round();
            }
            v
        };
        let xs = coords(cols, rng);
        let ys = coords(rows, rng);
        let class = |k: usize, rng: &mut ChaCha8Rng| {
            if cfg.arterial_every >= 2 && k % cfg.arterial_every as usize == 1 {
                Class { lanes: 3, speed: ARTERIAL_SPEED }
            } else {
                let lanes = if rng.gen_bool(0.7) { 2 } else { 1 };
                let speed = if rng.gen_bool(0.5) { 13.889 } else { 11.111 };
                Class { lanes, speed }
            }
        };
        let row_class: Vec<Class> = (0..rows).map(|r| class(r, rng)).collect();
        let col_class: Vec<Class> = (0..cols).map(|c| class(c, rng)).collect();
        let is_arterial = |c: Class| c.speed == ARTERIAL_SPEED;

        // Grid segments, then the removals that make T-junctions.
        let id = |r: usize, c: usize| r * cols + c;
        let mut segments = Vec::with_capacity(2 * rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                if c + 1 < cols {
                    segments.push(Segment { a: id(r, c), b: id(r, c + 1), dir: E });
                }
                if r + 1 < rows {
                    segments.push(Segment { a: id(r, c), b: id(r + 1, c), dir: N });
                }
            }
        }
        let corner = |n: usize| {
            let (r, c) = (n / cols, n % cols);
            (r == 0 || r == rows - 1) && (c == 0 || c == cols - 1)
        };
        let line_class = |s: &Segment| if s.dir == E { row_class[s.a / cols] } else { col_class[s.a % cols] };
        let mut candidates: Vec<usize> = (0..segments.len())
            .filter(|&k| !is_arterial(line_class(&segments[k])) && !corner(segments[k].a) && !corner(segments[k].b))
            .collect();
        candidates.shuffle(rng);
        let target = (cfg.t_junction_share * candidates.len() as f64).round() as usize;
        let mut degree = vec![4u8; rows * cols];
        let mut removed = vec![false; segments.len()];
        let mut n_removed = 0;
        for &k in &candidates {
            if n_removed >= target {
                break;
            }
            let s = segments[k];
            if degree[s.a] == 4 && degree[s.b] == 4 {
                removed[k] = true;
                degree[s.a] -= 1;
                degree[s.b] -= 1;
                n_removed += 1;
            }
        }
        let mut dsu = Dsu((0..rows * cols).collect());
        for (k, s) in segments.iter().enumerate() {
            if !removed[k] {
                dsu.union(s.a, s.b);
            }
        }
        for (k, s) in segments.iter().enumerate() {
            if removed[k] && dsu.union(s.a, s.b) {
                removed[k] = false;
            }
        }

        let mut lay = Layout {
            nodes: Vec::with_capacity(rows * cols + 4 * (rows + cols)),
            roads: Vec::new(),
            centre: Point::new(xs[cols - 1] / 2.0, ys[rows - 1] / 2.0),
            radius: (xs[cols - 1].hypot(ys[rows - 1]) / 2.0).max(1.0),
        };
        for (r, &y) in ys.iter().enumerate() {
            for (c, &x) in xs.iter().enumerate() {
                lay.add_node(format!("{}_{}", c + 1, r + 1), Point::new(x, y), Kind::Grid);
            }
        }
        for (k, s) in segments.iter().enumerate() {
            if !removed[k] {
                let (pa, pb) = (lay.nodes[s.a].point, lay.nodes[s.b].point);
                lay.add_pair(s.a, s.dir, s.b, opposite(s.dir), vec![pa, pb], line_class(s));
            }
        }

        // Boundary: for every street leaving the grid, (ring junction and) a virtual node.
        // Listed counter-clockwise around the city, starting at the south-west.
        let (x_max, y_max) = (xs[cols - 1], ys[rows - 1]);
        let mut exits: Vec<(usize, usize, Class)> = Vec::with_capacity(2 * (rows + cols));
        exits.extend((0..cols).map(|c| (id(0, c), S, col_class[c])));
        exits.extend((0..rows).map(|r| (id(r, cols - 1), E, row_class[r])));
        exits.extend((0..cols).rev().map(|c| (id(rows - 1, c), N, col_class[c])));
        exits.extend((0..rows).rev().map(|r| (id(r, 0), W, row_class[r])));
        let ring_gap = block;
        let leg_len = (0.8 * block).round();
        let index_name = |node: usize, dir: usize, far: bool| {
            let (r, c) = ((node / cols) as i64, (node % cols) as i64);
            let k = if far { 2 } else { 1 };
            let (i, j) = match dir {
                E => (c + 1 + k, r + 1),
                N => (c + 1, r + 1 + k),
                W => (c + 1 - k, r + 1),
                _ => (c + 1, r + 1 - k),
            };
            format!("{i}_{j}")
        };
        let mut ring_nodes = Vec::new();
        for &(g, dir, cls) in &exits {
            let gp = lay.nodes[g].point;
            let mut last = g;
            if cfg.ring_road {
                let rp = ring_point(gp, dir, ring_gap, x_max, y_max);
                let ring = lay.add_node(format!("r{}", index_name(g, dir, false)), rp, Kind::Ring);
                lay.add_pair(g, dir, ring, opposite(dir), vec![gp, rp], cls);
                ring_nodes.push((ring, dir));
                last = ring;
            }
            let lp = lay.nodes[last].point;
            let vp = lp + step(dir) * leg_len;
            let v = lay.add_node(index_name(g, dir, cfg.ring_road), vp, Kind::Virtual);
            lay.add_pair(last, dir, v, opposite(dir), vec![lp, vp], cls);
        }
        // The ring itself: consecutive ring junctions, bending at the four corners.
        let ring_class = Class { lanes: 2, speed: RING_SPEED };
        let travel = |side: usize| (side + 1) % 4;
        for k in 0..ring_nodes.len() {
            let (a, sa) = ring_nodes[k];
            let (b, sb) = ring_nodes[(k + 1) % ring_nodes.len()];
            let (pa, pb) = (lay.nodes[a].point, lay.nodes[b].point);
            let (ta, tb) = (travel(sa), travel(sb));
            let points = if sa == sb {
                vec![pa, pb]
            } else if ta == E || ta == W {
                vec![pa, Point::new(pb.x, pa.y), pb]
            } else {
                vec![pa, Point::new(pa.x, pb.y), pb]
            };
            lay.add_pair(a, ta, b, opposite(tb), points, ring_class);
        }
        lay
    }

    fn add_node(&mut self, name: String, point: Point, kind: Kind) -> usize {
        self.nodes.push(Node { name, point, kind, legs: [None; 4] });
        self.nodes.len() - 1
    }

    /// Two opposite roads between `a` (leg `da`) and `b` (leg `db`) along `points` (a to b).
    fn add_pair(&mut self, a: usize, da: usize, b: usize, db: usize, points: Vec<Point>, class: Class) {
        let ab = self.roads.len();
        let ba = ab + 1;
        let mut back = points.clone();
        back.reverse();
        let name = |n: &Node, d: usize| format!("road_{}_{}", n.name, d);
        self.roads.push(Road { name: name(&self.nodes[a], da), from: a, to: b, points, class });
        self.roads.push(Road { name: name(&self.nodes[b], db), from: b, to: a, points: back, class });
        self.nodes[a].legs[da] = Some(Leg { in_road: ba, out_road: ab });
        self.nodes[b].legs[db] = Some(Leg { in_road: ab, out_road: ba });
    }

    pub(super) fn to_spec(&self) -> NetworkSpec {
        let intersections = self
            .nodes
            .iter()
            .map(|n| {
                let name = match n.kind {
                    Kind::Ring => format!("ring_{}", &n.name[1..]),
                    _ => format!("intersection_{}", n.name),
                };
                if n.kind == Kind::Virtual {
                    return IntersectionSpec {
                        name,
                        point: n.point,
                        width: 0.0,
                        is_virtual: true,
                        movements: vec![],
                        phases: vec![],
                    };
                }
                let lanes = n.legs.map(|l| l.map_or(0, |l| self.roads[l.in_road].class.lanes));
                let widest = lanes.iter().copied().max().unwrap_or(1);
                let width = widest as f64 * LANE_WIDTH + 3.0;
                let (movements, phases) = junction::plan(n.point, width, &n.legs, &lanes, |r| self.roads[r].class.lanes);
                IntersectionSpec { name, point: n.point, width, is_virtual: false, movements, phases }
            })
            .collect();
        let roads = self
            .roads
            .iter()
            .map(|r| RoadSpec {
                name: r.name.clone(),
                from: r.from,
                to: r.to,
                points: r.points.clone(),
                lanes: vec![LaneSpec { width: LANE_WIDTH, max_speed: r.class.speed }; r.class.lanes],
            })
            .collect();
        NetworkSpec { intersections, roads, georef: Default::default() }
    }
}

/// Where the ring crosses the street leaving grid junction `gp` towards `dir`.
fn ring_point(gp: Point, dir: usize, gap: f64, x_max: f64, y_max: f64) -> Point {
    match dir {
        E => Point::new(x_max + gap, gp.y),
        N => Point::new(gp.x, y_max + gap),
        W => Point::new(-gap, gp.y),
        _ => Point::new(gp.x, -gap),
    }
}
