//! Planar geometry in metres: points, polylines and segment intersection.

/// A point or vector in the local metric plane.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

const EPS: f64 = 1e-8;

impl Point {
    pub const fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }
    /// Euclidean length, computed as CityFlow does (`sqrt(x*x + y*y)`, not the more
    /// careful `hypot`), so that lengths and distances agree with it to the last bit.
    pub fn len(self) -> f64 {
        (self.x * self.x + self.y * self.y).sqrt()
    }
    /// Unit vector in the same direction (zero stays zero).
    pub fn unit(self) -> Point {
        let l = self.len();
        if l < EPS {
            Point::default()
        } else {
            Point::new(self.x / l, self.y / l)
        }
    }
    /// The left normal `(-y, x)`.
    pub fn normal(self) -> Point {
        Point::new(-self.y, self.x)
    }
    pub fn cross(self, o: Point) -> f64 {
        self.x * o.y - self.y * o.x
    }
    pub fn dot(self, o: Point) -> f64 {
        self.x * o.x + self.y * o.y
    }
    pub fn heading(self) -> f64 {
        self.y.atan2(self.x)
    }
}

impl std::ops::Add for Point {
    type Output = Point;
    fn add(self, o: Point) -> Point {
        Point::new(self.x + o.x, self.y + o.y)
    }
}
impl std::ops::Sub for Point {
    type Output = Point;
    fn sub(self, o: Point) -> Point {
        Point::new(self.x - o.x, self.y - o.y)
    }
}
impl std::ops::Mul<f64> for Point {
    type Output = Point;
    fn mul(self, k: f64) -> Point {
        Point::new(self.x * k, self.y * k)
    }
}
impl std::ops::Neg for Point {
    type Output = Point;
    fn neg(self) -> Point {
        Point::new(-self.x, -self.y)
    }
}

/// Total length of a polyline.
pub fn polyline_length(points: &[Point]) -> f64 {
    points.windows(2).map(|w| (w[1] - w[0]).len()).sum()
}

/// The point at arc length `dis` along a polyline, clamped to its ends.
pub fn point_at(points: &[Point], dis: f64) -> Point {
    let Some(&first) = points.first() else {
        return Point::default();
    };
    let mut dis = dis.max(0.0);
    if dis <= 0.0 {
        return first;
    }
    for w in points.windows(2) {
        let len = (w[1] - w[0]).len();
        if dis > len {
            dis -= len;
        } else if len > 0.0 {
            return w[0] + (w[1] - w[0]) * (dis / len);
        }
    }
    *points.last().unwrap_or(&first)
}

/// Unit direction of the polyline segment containing arc length `dis`.
pub fn direction_at(points: &[Point], dis: f64) -> Point {
    if points.len() < 2 {
        return Point::new(1.0, 0.0);
    }
    let mut remain = dis;
    for w in points.windows(2) {
        let len = (w[1] - w[0]).len();
        if remain < len {
            return (w[1] - w[0]).unit();
        }
        remain -= len;
    }
    (points[points.len() - 1] - points[points.len() - 2]).unit()
}

fn sign(x: f64) -> i32 {
    if x.abs() < EPS {
        0
    } else if x > 0.0 {
        1
    } else {
        -1
    }
}

/// Whether two directions are parallel (their cross product is within `EPS` of 0),
/// the test CityFlow uses before intersecting two segments.
pub fn parallel(a: Point, b: Point) -> bool {
    sign(a.cross(b)) == 0
}

/// Where segments `a1-a2` and `b1-b2` cross, if they do (parallel segments never cross).
pub fn segment_intersection(a1: Point, a2: Point, b1: Point, b2: Point) -> Option<Point> {
    let da = a2 - a1;
    let db = b2 - b1;
    if sign(da.cross(db)) == 0 {
        return None;
    }
    let t = (b1 - a1).cross(db) / da.cross(db);
    let p = a1 + da * t;
    if on_segment(a1, a2, p) && on_segment(b1, b2, p) {
        Some(p)
    } else {
        None
    }
}

fn on_segment(a: Point, b: Point, p: Point) -> bool {
    let v1 = a - p;
    let v2 = b - p;
    sign(v1.cross(v2)) == 0 && sign(v1.dot(v2)) <= 0
}

/// CityFlow's lane-link curve: a cubic Bézier from `start` (leaving in direction `sd`) to
/// `end` (arriving in direction `ed`) through a junction of half-size `width`, sampled
/// at `segments + 1` points. CityFlow uses 10 segments.
///
/// When the chord is shorter than 10 m (and `width` ≥ 5 m) both control points sit 5 m
/// from their ends. CityFlow (`RoadNet::loadFromJson`) then puts the second one 5 m
/// *ahead* of `end` instead of behind it, so such a curve hooks back into the exit lane;
/// `cityflow_quirk` reproduces that (needed to match CityFlow on files whose lane links
/// have no points), otherwise the control point lies behind `end` as in the long case.
pub fn lane_link_bezier(
    start: Point,
    sd: Point,
    end: Point,
    ed: Point,
    width: f64,
    segments: usize,
    cityflow_quirk: bool,
) -> Vec<Point> {
    let len = (end - start).len();
    let mut g1 = sd * (len * 0.5);
    let mut g2 = -ed * (len * 0.5);
    if g1.dot(g1) < 25.0 && width >= 5.0 {
        g1 = sd * 5.0;
    }
    if g2.dot(g2) < 25.0 && width >= 5.0 {
        g2 = if cityflow_quirk { ed * 5.0 } else { -ed * 5.0 };
    }
    let (mid1, mid2) = (start + g1, end + g2);
    let lerp = |a: Point, b: Point, t: f64| a + (b - a) * t;
    (0..=segments)
        .map(|i| {
            let t = i as f64 / segments as f64;
            let (p1, p2, p3) = (lerp(start, mid1, t), lerp(mid1, mid2, t), lerp(mid2, end, t));
            lerp(lerp(p1, p2, t), lerp(p2, p3, t), t)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_segments_meet_in_the_middle() {
        let p = segment_intersection(Point::new(0.0, 0.0), Point::new(2.0, 2.0), Point::new(0.0, 2.0), Point::new(2.0, 0.0))
            .expect("they cross");
        assert!((p.x - 1.0).abs() < 1e-12 && (p.y - 1.0).abs() < 1e-12);
        assert!(segment_intersection(Point::new(0.0, 0.0), Point::new(1.0, 0.0), Point::new(0.0, 1.0), Point::new(1.0, 1.0))
            .is_none());
    }

    #[test]
    fn polyline_walks() {
        let pts = [Point::new(0.0, 0.0), Point::new(3.0, 0.0), Point::new(3.0, 4.0)];
        assert_eq!(polyline_length(&pts), 7.0);
        assert_eq!(point_at(&pts, 5.0), Point::new(3.0, 2.0));
        assert_eq!(point_at(&pts, 100.0), Point::new(3.0, 4.0));
        assert_eq!(direction_at(&pts, 4.0), Point::new(0.0, 1.0));
    }
}
