//! Map matching of probe fixes: a uniform grid over lane segments, nearest segment whose
//! direction agrees with the probe heading.

use std::collections::HashMap;

use city::{Network, Point, RoadId};

#[derive(Clone, Copy, Debug)]
struct Segment {
    road: RoadId,
    a: Point,
    b: Point,
}

/// Grid index of all lane segments of a network.
#[derive(Clone, Debug)]
pub struct LaneGrid {
    cell: f64,
    segments: Vec<Segment>,
    cells: HashMap<(i64, i64), Vec<u32>>,
}

impl LaneGrid {
    /// Index every lane of `net` in cells of `cell` metres.
    pub fn new(net: &Network, cell: f64) -> LaneGrid {
        let mut g = LaneGrid { cell: cell.max(1.0), segments: Vec::new(), cells: HashMap::new() };
        for lane in &net.lanes {
            for w in lane.points.windows(2) {
                let id = g.segments.len() as u32;
                g.segments.push(Segment { road: lane.road, a: w[0], b: w[1] });
                let (c0, c1) = (g.key(w[0]), g.key(w[1]));
                for cx in c0.0.min(c1.0)..=c0.0.max(c1.0) {
                    for cy in c0.1.min(c1.1)..=c0.1.max(c1.1) {
                        g.cells.entry((cx, cy)).or_default().push(id);
                    }
                }
            }
        }
        g
    }

    fn key(&self, p: Point) -> (i64, i64) {
        ((p.x / self.cell).floor() as i64, (p.y / self.cell).floor() as i64)
    }

    /// The road of the nearest lane segment within `radius` whose direction is within
    /// `tolerance` radians of `heading`; ties go to the lower road id.
    pub fn nearest(&self, p: Point, heading: f64, radius: f64, tolerance: f64) -> Option<(RoadId, f64)> {
        let (k0, k1) = (self.key(Point::new(p.x - radius, p.y - radius)), self.key(Point::new(p.x + radius, p.y + radius)));
        // Bound the scan: a huge radius with a tiny cell must not loop forever.
        if (k1.0 - k0.0 + 1).saturating_mul(k1.1 - k0.1 + 1) > 10_000 {
            return None;
        }
        let (hx, hy) = (heading.cos(), heading.sin());
        let cos_tol = tolerance.cos();
        let mut best: Option<(RoadId, f64)> = None;
        for cx in k0.0..=k1.0 {
            for cy in k0.1..=k1.1 {
                let Some(ids) = self.cells.get(&(cx, cy)) else { continue };
                for &i in ids {
                    let s = self.segments[i as usize];
                    let d = s.b - s.a;
                    let len = d.len();
                    if len < 1e-9 || (d.x * hx + d.y * hy) / len < cos_tol {
                        continue;
                    }
                    let t = (((p.x - s.a.x) * d.x + (p.y - s.a.y) * d.y) / (len * len)).clamp(0.0, 1.0);
                    let q = Point::new(s.a.x + d.x * t, s.a.y + d.y * t);
                    let dist = (p - q).len();
                    if dist <= radius && best.is_none_or(|(r, bd)| dist < bd || (dist == bd && s.road < r)) {
                        best = Some((s.road, dist));
                    }
                }
            }
        }
        best
    }
}
