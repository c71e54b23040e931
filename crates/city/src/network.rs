//! The built road network: dense arrays of intersections, roads, lanes, movements,
//! lane links and crossing points, with geometry derived the way CityFlow derives it
//! (lanes offset to the right of the centre line and trimmed by the junction width,
//! Bézier lane links, crossing points between every pair of lane links).

use std::collections::HashMap;

use crate::geo::Georef;
use crate::geom::{direction_at, parallel, point_at, polyline_length, segment_intersection, Point};
use crate::ids::*;
use crate::spec::{NetworkSpec, Turn};

/// A problem in a network or demand description, located by a path such as
/// `intersections[3].roadLinks[2].laneLinks[0].startLaneIndex`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct BuildError {
    pub path: String,
    pub message: String,
}

impl BuildError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        BuildError { path: path.into(), message: message.into() }
    }
}

#[derive(Clone, Debug)]
pub struct Intersection {
    pub name: String,
    pub point: Point,
    pub width: f64,
    pub is_virtual: bool,
    /// Roads that start or end here, in file order.
    pub roads: Vec<RoadId>,
    /// This intersection's movements; `movements[k]` is local movement `k`.
    pub movements: Vec<MovementId>,
    pub phases: Vec<Phase>,
    pub crosses: Vec<CrossId>,
}

impl Intersection {
    /// A signalised intersection has movements and at least two phases.
    pub fn is_signalised(&self) -> bool {
        !self.is_virtual && self.phases.len() > 1 && !self.movements.is_empty()
    }
}

#[derive(Clone, Debug)]
pub struct Phase {
    pub duration: f64,
    /// `green[k]` is true when local movement `k` of the intersection may go.
    pub green: Vec<bool>,
}

#[derive(Clone, Debug)]
pub struct Road {
    pub name: String,
    pub from: IntersectionId,
    pub to: IntersectionId,
    pub points: Vec<Point>,
    pub first_lane: LaneId,
    pub lane_count: u32,
}

impl Road {
    pub fn lanes(&self) -> impl Iterator<Item = LaneId> + Clone {
        let f = self.first_lane.0;
        (f..f + self.lane_count).map(LaneId)
    }
}

#[derive(Clone, Debug)]
pub struct Lane {
    pub road: RoadId,
    /// 0 is the innermost lane.
    pub index: u32,
    pub width: f64,
    pub max_speed: f64,
    pub points: Vec<Point>,
    pub length: f64,
    /// Lane links that start on this lane, in file order.
    pub lane_links: Vec<LaneLinkId>,
}

#[derive(Clone, Debug)]
pub struct Movement {
    pub intersection: IntersectionId,
    /// Index of this movement within its intersection (the CityFlow roadLink index).
    pub local: u32,
    pub turn: Turn,
    pub from_road: RoadId,
    pub to_road: RoadId,
    pub lane_links: Vec<LaneLinkId>,
}

#[derive(Clone, Debug)]
pub struct LaneLink {
    pub movement: MovementId,
    pub from_lane: LaneId,
    pub to_lane: LaneId,
    pub points: Vec<Point>,
    pub length: f64,
    /// Crossing points on this link, nearest first: `(cross, which side of the cross this link is)`.
    pub crosses: Vec<(CrossId, u8)>,
}

/// A point where two lane links of one intersection cross.
#[derive(Clone, Copy, Debug)]
pub struct Cross {
    pub links: [LaneLinkId; 2],
    /// Distance of the crossing point from the start of each link.
    pub distance: [f64; 2],
}

/// The whole road network. Immutable once built.
#[derive(Clone, Debug)]
pub struct Network {
    pub intersections: Vec<Intersection>,
    pub roads: Vec<Road>,
    pub lanes: Vec<Lane>,
    pub movements: Vec<Movement>,
    pub lane_links: Vec<LaneLink>,
    pub crosses: Vec<Cross>,
    /// Where the network's metres are on Earth (from the spec).
    pub georef: Georef,
    road_by_name: HashMap<String, RoadId>,
    intersection_by_name: HashMap<String, IntersectionId>,
}

/// Width given to every lane link, as in CityFlow.
pub const LANE_LINK_WIDTH: f64 = 4.0;

impl Network {
    /// The bounding box `(min, max)` of every intersection and road point, in network
    /// metres; `None` for an empty network.
    pub fn bounds(&self) -> Option<(Point, Point)> {
        let pts = self.intersections.iter().map(|i| i.point).chain(self.roads.iter().flat_map(|r| r.points.iter().copied()));
        pts.fold(None, |acc, p| match acc {
            None => Some((p, p)),
            Some((lo, hi)) => Some((Point::new(lo.x.min(p.x), lo.y.min(p.y)), Point::new(hi.x.max(p.x), hi.y.max(p.y)))),
        })
    }

    pub fn road_by_name(&self, name: &str) -> Option<RoadId> {
        self.road_by_name.get(name).copied()
    }
    pub fn intersection_by_name(&self, name: &str) -> Option<IntersectionId> {
        self.intersection_by_name.get(name).copied()
    }
    pub fn road(&self, r: RoadId) -> &Road {
        &self.roads[r.idx()]
    }
    pub fn lane(&self, l: LaneId) -> &Lane {
        &self.lanes[l.idx()]
    }
    pub fn lane_link(&self, l: LaneLinkId) -> &LaneLink {
        &self.lane_links[l.idx()]
    }
    pub fn movement(&self, m: MovementId) -> &Movement {
        &self.movements[m.idx()]
    }
    pub fn intersection(&self, i: IntersectionId) -> &Intersection {
        &self.intersections[i.idx()]
    }
    /// Mean lane length of a road.
    pub fn road_length(&self, r: RoadId) -> f64 {
        let road = self.road(r);
        if road.lane_count == 0 {
            return 0.0;
        }
        road.lanes().map(|l| self.lane(l).length).sum::<f64>() / road.lane_count as f64
    }
    /// Whether a vehicle can drive from road `a` directly onto road `b`.
    pub fn connected(&self, a: RoadId, b: RoadId) -> bool {
        self.road(a).lanes().any(|l| self.lane(l).lane_links.iter().any(|&ll| self.lane(self.lane_link(ll).to_lane).road == b))
    }
    /// Whether two movements of the same intersection cross each other inside the
    /// junction (merging into, or diverging from, a shared road does not count).
    pub fn movements_conflict(&self, a: MovementId, b: MovementId) -> bool {
        let (ma, mb) = (self.movement(a), self.movement(b));
        if a == b || ma.intersection != mb.intersection || ma.from_road == mb.from_road || ma.to_road == mb.to_road {
            return false;
        }
        for &la in &ma.lane_links {
            for &(c, side) in &self.lane_link(la).crosses {
                let cross = &self.crosses[c.idx()];
                let other = cross.links[1 - side as usize];
                if self.lane_link(other).movement == b {
                    return true;
                }
            }
        }
        false
    }

    /// Validate a spec and derive all geometry.
    pub fn build(spec: &NetworkSpec) -> Result<Network, BuildError> {
        build(spec)
    }
}

fn check_finite(path: &str, what: &str, v: f64) -> Result<(), BuildError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(BuildError::new(path, format!("{what} must be a finite number, got {v}")))
    }
}

fn build(spec: &NetworkSpec) -> Result<Network, BuildError> {
    let n_int = spec.intersections.len();
    let mut road_by_name = HashMap::with_capacity(spec.roads.len());
    let mut intersection_by_name = HashMap::with_capacity(n_int);
    for (i, is) in spec.intersections.iter().enumerate() {
        let path = format!("intersections[{i}]");
        check_finite(&path, "point", is.point.x + is.point.y)?;
        check_finite(&path, "width", is.width)?;
        if is.width < 0.0 {
            return Err(BuildError::new(format!("{path}.width"), format!("negative width {}", is.width)));
        }
        if intersection_by_name.insert(is.name.clone(), IntersectionId::from(i)).is_some() {
            return Err(BuildError::new(format!("{path}.id"), format!("duplicate intersection id {:?}", is.name)));
        }
    }
    let mut intersections: Vec<Intersection> = spec
        .intersections
        .iter()
        .map(|is| Intersection {
            name: is.name.clone(),
            point: is.point,
            width: if is.is_virtual { 0.0 } else { is.width },
            is_virtual: is.is_virtual,
            roads: Vec::new(),
            movements: Vec::new(),
            phases: Vec::new(),
            crosses: Vec::new(),
        })
        .collect();

    // Roads and lanes.
    let mut roads = Vec::with_capacity(spec.roads.len());
    let mut lanes: Vec<Lane> = Vec::new();
    for (r, rs) in spec.roads.iter().enumerate() {
        let path = format!("roads[{r}]");
        if road_by_name.insert(rs.name.clone(), RoadId::from(r)).is_some() {
            return Err(BuildError::new(format!("{path}.id"), format!("duplicate road id {:?}", rs.name)));
        }
        if rs.from >= n_int {
            return Err(BuildError::new(format!("{path}.startIntersection"), "no such intersection"));
        }
        if rs.to >= n_int {
            return Err(BuildError::new(format!("{path}.endIntersection"), "no such intersection"));
        }
        if rs.points.len() < 2 {
            return Err(BuildError::new(
                format!("{path}.points"),
                format!("a road needs at least 2 points, got {}", rs.points.len()),
            ));
        }
        for (k, p) in rs.points.iter().enumerate() {
            check_finite(&format!("{path}.points[{k}]"), "coordinate", p.x + p.y)?;
        }
        if rs.lanes.is_empty() {
            return Err(BuildError::new(format!("{path}.lanes"), "a road needs at least one lane"));
        }
        for (k, l) in rs.lanes.iter().enumerate() {
            let lp = format!("{path}.lanes[{k}]");
            if !(l.width.is_finite() && l.width > 0.0) {
                return Err(BuildError::new(format!("{lp}.width"), format!("lane width must be positive, got {}", l.width)));
            }
            if !(l.max_speed.is_finite() && l.max_speed > 0.0) {
                return Err(BuildError::new(
                    format!("{lp}.maxSpeed"),
                    format!("speed limit must be positive, got {}", l.max_speed),
                ));
            }
        }
        let from = IntersectionId::from(rs.from);
        let to = IntersectionId::from(rs.to);
        let centre = trimmed_centre_line(&rs.points, &intersections[rs.from], &intersections[rs.to]);
        let length = polyline_length(&centre);
        if length.is_nan() || length <= 0.1 {
            return Err(BuildError::new(
                format!("{path}.points"),
                format!("road {:?} has length {length:.2} m after trimming the junction boxes; it must be positive", rs.name),
            ));
        }
        let first_lane = LaneId::from(lanes.len());
        let mut offset = 0.0;
        for (k, l) in rs.lanes.iter().enumerate() {
            let mid = offset + l.width / 2.0;
            let points = offset_polyline(&centre, mid);
            let length = polyline_length(&points);
            lanes.push(Lane {
                road: RoadId::from(r),
                index: k as u32,
                width: l.width,
                max_speed: l.max_speed,
                points,
                length,
                lane_links: Vec::new(),
            });
            offset += l.width;
        }
        roads.push(Road {
            name: rs.name.clone(),
            from,
            to,
            points: rs.points.clone(),
            first_lane,
            lane_count: rs.lanes.len() as u32,
        });
    }
    // Movements, lane links, phases.
    let mut movements = Vec::new();
    let mut lane_links: Vec<LaneLink> = Vec::new();
    for (i, is) in spec.intersections.iter().enumerate() {
        let ipath = format!("intersections[{i}]");
        let iid = IntersectionId::from(i);
        if is.is_virtual {
            continue;
        }
        for (m, ms) in is.movements.iter().enumerate() {
            let mpath = format!("{ipath}.roadLinks[{m}]");
            if ms.from_road >= roads.len() {
                return Err(BuildError::new(format!("{mpath}.startRoad"), "no such road"));
            }
            if ms.to_road >= roads.len() {
                return Err(BuildError::new(format!("{mpath}.endRoad"), "no such road"));
            }
            let (fr, tr) = (&roads[ms.from_road], &roads[ms.to_road]);
            if fr.to != iid {
                return Err(BuildError::new(
                    format!("{mpath}.startRoad"),
                    format!("road {:?} does not end at intersection {:?}", fr.name, is.name),
                ));
            }
            if tr.from != iid {
                return Err(BuildError::new(
                    format!("{mpath}.endRoad"),
                    format!("road {:?} does not start at intersection {:?}", tr.name, is.name),
                ));
            }
            let mid = MovementId::from(movements.len());
            let mut links = Vec::with_capacity(ms.lane_links.len());
            for (k, ls) in ms.lane_links.iter().enumerate() {
                let lpath = format!("{mpath}.laneLinks[{k}]");
                if ls.from_lane >= fr.lane_count as usize {
                    return Err(BuildError::new(
                        format!("{lpath}.startLaneIndex"),
                        format!("lane {} out of range: road {:?} has {} lanes", ls.from_lane, fr.name, fr.lane_count),
                    ));
                }
                if ls.to_lane >= tr.lane_count as usize {
                    return Err(BuildError::new(
                        format!("{lpath}.endLaneIndex"),
                        format!("lane {} out of range: road {:?} has {} lanes", ls.to_lane, tr.name, tr.lane_count),
                    ));
                }
                let from_lane = LaneId(fr.first_lane.0 + ls.from_lane as u32);
                let to_lane = LaneId(tr.first_lane.0 + ls.to_lane as u32);
                for (p, pt) in ls.points.iter().enumerate() {
                    check_finite(&format!("{lpath}.points[{p}]"), "coordinate", pt.x + pt.y)?;
                }
                let points = if ls.points.len() >= 2 {
                    ls.points.clone()
                } else {
                    bezier_link(&spec.roads[ms.from_road], ls.from_lane, &spec.roads[ms.to_road], ls.to_lane, is.width)
                };
                let length = polyline_length(&points);
                let id = LaneLinkId::from(lane_links.len());
                lanes[from_lane.idx()].lane_links.push(id);
                lane_links.push(LaneLink { movement: mid, from_lane, to_lane, points, length, crosses: Vec::new() });
                links.push(id);
            }
            intersections[i].movements.push(mid);
            movements.push(Movement {
                intersection: iid,
                local: m as u32,
                turn: ms.turn,
                from_road: RoadId::from(ms.from_road),
                to_road: RoadId::from(ms.to_road),
                lane_links: links,
            });
        }
        for (p, ps) in is.phases.iter().enumerate() {
            let ppath = format!("{ipath}.trafficLight.lightphases[{p}]");
            if !(ps.duration.is_finite() && ps.duration >= 0.0) {
                return Err(BuildError::new(
                    format!("{ppath}.time"),
                    format!("phase time must be a non-negative number, got {}", ps.duration),
                ));
            }
            let mut green = vec![false; is.movements.len()];
            for (k, &m) in ps.movements.iter().enumerate() {
                if m >= is.movements.len() {
                    return Err(BuildError::new(
                        format!("{ppath}.availableRoadLinks[{k}]"),
                        format!("road link {m} does not exist: intersection {:?} has {} road links", is.name, is.movements.len()),
                    ));
                }
                green[m] = true;
            }
            intersections[i].phases.push(Phase { duration: ps.duration, green });
        }
        if !intersections[i].phases.is_empty() && intersections[i].phases.iter().all(|p| p.duration <= 0.0) {
            return Err(BuildError::new(
                format!("{ipath}.trafficLight.lightphases"),
                "every phase has zero time; the plan cannot cycle",
            ));
        }
    }
    for (r, road) in roads.iter().enumerate() {
        intersections[road.from.idx()].roads.push(RoadId::from(r));
        if road.to != road.from {
            intersections[road.to.idx()].roads.push(RoadId::from(r));
        }
    }

    let mut crosses = Vec::new();
    for inter in intersections.iter_mut() {
        let all: Vec<LaneLinkId> = inter.movements.iter().flat_map(|m| movements[m.idx()].lane_links.iter().copied()).collect();
        let polys: Vec<Poly> = all.iter().map(|l| Poly::new(&lane_links[l.idx()].points)).collect();
        for a in 0..all.len() {
            for b in a + 1..all.len() {
                if let Some(dist) = first_crossing(&polys[a], &polys[b]) {
                    let c = CrossId::from(crosses.len());
                    crosses.push(Cross { links: [all[a], all[b]], distance: dist });
                    inter.crosses.push(c);
                }
            }
        }
    }
    for (c, cross) in crosses.iter().enumerate() {
        for side in 0..2 {
            lane_links[cross.links[side].idx()].crosses.push((CrossId::from(c), side as u8));
        }
    }
    for ll in lane_links.iter_mut() {
        ll.crosses.sort_by(|a, b| {
            let da = crosses[a.0.idx()].distance[a.1 as usize];
            let db = crosses[b.0.idx()].distance[b.1 as usize];
            da.total_cmp(&db)
        });
    }

    Ok(Network {
        intersections,
        roads,
        lanes,
        movements,
        lane_links,
        crosses,
        georef: spec.georef,
        road_by_name,
        intersection_by_name,
    })
}

/// The centre line with its ends pulled back by the junction width at non-virtual ends.
fn trimmed_centre_line(points: &[Point], from: &Intersection, to: &Intersection) -> Vec<Point> {
    let mut pts = points.to_vec();
    let n = pts.len();
    if !from.is_virtual {
        pts[0] = pts[0] + (pts[1] - pts[0]).unit() * from.width;
    }
    if !to.is_virtual {
        pts[n - 1] = pts[n - 1] - (pts[n - 1] - pts[n - 2]).unit() * to.width;
    }
    pts
}

/// Offset a polyline `d` metres to the right of its direction of travel.
pub(crate) fn offset_polyline(points: &[Point], d: f64) -> Vec<Point> {
    let n = points.len();
    (0..n)
        .map(|j| {
            let u = if j == 0 {
                (points[1] - points[0]).unit()
            } else if j + 1 == n {
                (points[j] - points[j - 1]).unit()
            } else {
                ((points[j + 1] - points[j]).unit() + (points[j] - points[j - 1]).unit()).unit()
            };
            points[j] + (-u.normal()) * d
        })
        .collect()
}

/// CityFlow's default lane-link curve: a cubic Bézier, 11 points, from lane `from_lane`
/// of road `from` to lane `to_lane` of road `to` through a junction `width` metres wide.
///
/// CityFlow (`RoadNet::loadFromJson`) builds these curves while its lanes still run along
/// the untrimmed road centre line (the junction boxes are cut off only later), and starts
/// the curve `width` metres before that lane's end and ends it `width` metres into the
/// next lane. On a straight road that is the trimmed lane end; on a road whose last or
/// first segment follows a kink it is not quite (the lane offset at an inner point is not
/// mitred), so the curve is built the same way here, including CityFlow's placement of
/// the second control point on short chords (see [`crate::geom::lane_link_bezier`]).
fn bezier_link(
    from: &crate::spec::RoadSpec,
    from_lane: usize,
    to: &crate::spec::RoadSpec,
    to_lane: usize,
    width: f64,
) -> Vec<Point> {
    let untrimmed_lane = |road: &crate::spec::RoadSpec, k: usize| {
        let mid = road.lanes[..k].iter().map(|l| l.width).sum::<f64>() + road.lanes[k].width / 2.0;
        offset_polyline(&road.points, mid)
    };
    let (a, b) = (untrimmed_lane(from, from_lane), untrimmed_lane(to, to_lane));
    let along = (polyline_length(&a) - width).max(0.0);
    let (start, sd) = (point_at(&a, along), direction_at(&a, along));
    let (end, ed) = (point_at(&b, width), direction_at(&b, width));
    crate::geom::lane_link_bezier(start, sd, end, ed, width, 10, true)
}

/// Distances along `a` and `b` of their first crossing, scanning `a` then `b` segment by segment.
fn first_crossing(a: &Poly, b: &Poly) -> Option<[f64; 2]> {
    if !a.bb.overlaps(&b.bb) {
        return None;
    }
    for (i, wa) in a.pts.windows(2).enumerate() {
        let sa = BBox::of(&wa[..2]);
        if !sa.overlaps(&b.bb) {
            continue;
        }
        for (j, wb) in b.pts.windows(2).enumerate() {
            if !sa.overlaps(&BBox::of(&wb[..2])) {
                continue;
            }
            if let Some(p) = segment_intersection(wa[0], wa[1], wb[0], wb[1]) {
                // CityFlow (`Intersection::initCrosses`) skips, without adding its length
                // to the distance along `b`, every earlier segment of `b` parallel to this
                // segment of `a`; the distance along `b` follows it.
                let mut along_b = 0.0;
                for w in b.pts.windows(2).take(j) {
                    if !parallel(wa[1] - wa[0], w[1] - w[0]) {
                        along_b += (w[1] - w[0]).len();
                    }
                }
                return Some([a.pre[i] + (p - wa[0]).len(), along_b + (p - wb[0]).len()]);
            }
        }
    }
    None
}

/// A lane link's polyline prepared for the crossing search: the distance along it at the
/// start of each segment (summed in order, exactly as a walk along it would) and its
/// bounding box.
struct Poly<'a> {
    pts: &'a [Point],
    pre: Vec<f64>,
    bb: BBox,
}

impl<'a> Poly<'a> {
    fn new(pts: &'a [Point]) -> Self {
        let mut pre = Vec::with_capacity(pts.len());
        let mut d = 0.0;
        for w in pts.windows(2) {
            pre.push(d);
            d += (w[1] - w[0]).len();
        }
        Poly { pts, pre, bb: BBox::of(pts) }
    }
}

/// An axis-aligned box grown by a margin far above `segment_intersection`'s tolerance,
/// so disjoint boxes prove that no segments inside them cross.
struct BBox {
    lo: Point,
    hi: Point,
}

impl BBox {
    const MARGIN: f64 = 1e-2;
    fn of(pts: &[Point]) -> Self {
        let (mut lo, mut hi) = (Point::new(f64::INFINITY, f64::INFINITY), Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY));
        for p in pts {
            lo = Point::new(lo.x.min(p.x), lo.y.min(p.y));
            hi = Point::new(hi.x.max(p.x), hi.y.max(p.y));
        }
        BBox {
            lo: Point::new(lo.x - Self::MARGIN, lo.y - Self::MARGIN),
            hi: Point::new(hi.x + Self::MARGIN, hi.y + Self::MARGIN),
        }
    }
    /// False only when the boxes are certainly apart (NaN coordinates count as overlapping).
    fn overlaps(&self, o: &BBox) -> bool {
        !(self.hi.x < o.lo.x || o.hi.x < self.lo.x || self.hi.y < o.lo.y || o.hi.y < self.lo.y)
    }
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
