//! GeoJSON geometries in WGS84 and the geo-query relations of NGSI-LD (`near` with
//! `maxDistance`/`minDistance` in metres, `within`, `contains`, `intersects`, `disjoint`,
//! `equals`, `overlaps`). Topology is computed on longitude/latitude as a plane (fine for
//! city-sized shapes); distances are great-circle (haversine).

use serde_json::Value;

type P = (f64, f64);

/// A parsed geometry: its parts as points, lines and polygons (outer ring first).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Geometry {
    pub points: Vec<P>,
    pub lines: Vec<Vec<P>>,
    pub polygons: Vec<Vec<Vec<P>>>,
}

const MAX_COORDS: usize = 100_000;

fn pos(v: &Value) -> Result<P, String> {
    let a = v.as_array().ok_or("a position must be an array of numbers")?;
    if a.len() < 2 || a.len() > 3 {
        return Err("a position has 2 or 3 numbers".into());
    }
    let x = a[0].as_f64().ok_or("a coordinate must be a number")?;
    let y = a[1].as_f64().ok_or("a coordinate must be a number")?;
    if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
        return Err(format!("[{x}, {y}] is outside WGS84 longitude/latitude"));
    }
    Ok((x, y))
}

fn line(v: &Value, min: usize) -> Result<Vec<P>, String> {
    let a = v.as_array().ok_or("coordinates must be arrays")?;
    if a.len() < min {
        return Err(format!("needs at least {min} positions"));
    }
    if a.len() > MAX_COORDS {
        return Err("too many positions".into());
    }
    a.iter().map(pos).collect()
}

fn polygon(v: &Value) -> Result<Vec<Vec<P>>, String> {
    let rings = v.as_array().ok_or("polygon coordinates must be an array of rings")?;
    if rings.is_empty() {
        return Err("a polygon needs a ring".into());
    }
    rings
        .iter()
        .map(|r| {
            let ring = line(r, 4)?;
            if ring.first() != ring.last() {
                return Err("a polygon ring must be closed".to_string());
            }
            Ok(ring)
        })
        .collect()
}

impl Geometry {
    /// Parse a GeoJSON geometry object.
    pub fn parse(v: &Value) -> Result<Geometry, String> {
        let m = v.as_object().ok_or("a geometry must be a GeoJSON object")?;
        let t = m.get("type").and_then(Value::as_str).ok_or("a geometry needs a type")?;
        let c = m.get("coordinates").ok_or("a geometry needs coordinates")?;
        Geometry::from_parts(t, c)
    }

    /// Parse from a type name and coordinates (the `geometry`/`coordinates` query pair).
    pub fn from_parts(t: &str, c: &Value) -> Result<Geometry, String> {
        let mut g = Geometry::default();
        let arr = |v: &Value| v.as_array().cloned().ok_or_else(|| "coordinates must be an array".to_string());
        match t {
            "Point" => g.points.push(pos(c)?),
            "MultiPoint" => g.points = line(c, 1)?,
            "LineString" => g.lines.push(line(c, 2)?),
            "MultiLineString" => {
                for l in arr(c)? {
                    g.lines.push(line(&l, 2)?);
                }
            }
            "Polygon" => g.polygons.push(polygon(c)?),
            "MultiPolygon" => {
                for p in arr(c)? {
                    g.polygons.push(polygon(&p)?);
                }
            }
            other => return Err(format!("unsupported geometry type {other:?}")),
        }
        if g.points.is_empty() && g.lines.is_empty() && g.polygons.is_empty() {
            return Err("empty geometry".into());
        }
        Ok(g)
    }

    fn vertices(&self) -> impl Iterator<Item = P> + '_ {
        self.points
            .iter()
            .copied()
            .chain(self.lines.iter().flatten().copied())
            .chain(self.polygons.iter().flat_map(|p| p.iter().flatten().copied()))
    }

    fn segments(&self) -> Vec<(P, P)> {
        let mut s = Vec::new();
        for l in self.lines.iter().chain(self.polygons.iter().flatten()) {
            for w in l.windows(2) {
                s.push((w[0], w[1]));
            }
        }
        s
    }

    fn inside_area(&self, p: P) -> bool {
        self.polygons.iter().any(|poly| in_ring(p, &poly[0]) && !poly[1..].iter().any(|h| in_ring(p, h) && !on_ring(p, h)))
    }

    fn covers_point(&self, p: P) -> bool {
        self.points.contains(&p) || self.segments().iter().any(|&(a, b)| on_segment(p, a, b)) || self.inside_area(p)
    }

    /// Least great-circle distance in metres from `p` to this geometry.
    pub fn distance_to(&self, p: P) -> f64 {
        if self.inside_area(p) {
            return 0.0;
        }
        let mut d = f64::INFINITY;
        for v in self.vertices() {
            d = d.min(haversine(v, p));
        }
        for (a, b) in self.segments() {
            d = d.min(haversine(closest_on_segment(p, a, b), p));
        }
        d
    }

    pub fn intersects(&self, o: &Geometry) -> bool {
        if self.vertices().any(|p| o.covers_point(p)) || o.vertices().any(|p| self.covers_point(p)) {
            return true;
        }
        let (sa, sb) = (self.segments(), o.segments());
        sa.iter().any(|&(a, b)| sb.iter().any(|&(c, d)| segments_cross(a, b, c, d)))
    }

    /// Every part of `self` lies in `o`.
    pub fn within(&self, o: &Geometry) -> bool {
        if !self.vertices().all(|p| o.covers_point(p)) {
            return false;
        }
        // An edge leaving a concave area crosses its boundary at an interior point.
        let sb = o.segments();
        self.segments().iter().all(|&(a, b)| {
            let m = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
            o.covers_point(m) || sb.iter().any(|&(c, d)| on_segment(m, c, d))
        })
    }

    pub fn equals(&self, o: &Geometry) -> bool {
        self == o
    }

    fn dim(&self) -> u8 {
        if !self.polygons.is_empty() {
            2
        } else if !self.lines.is_empty() {
            1
        } else {
            0
        }
    }

    pub fn overlaps(&self, o: &Geometry) -> bool {
        self.dim() == o.dim() && self.intersects(o) && !self.within(o) && !o.within(self)
    }
}

fn in_ring(p: P, ring: &[P]) -> bool {
    if on_ring(p, ring) {
        return true;
    }
    let mut inside = false;
    let n = ring.len();
    let mut j = n - 1;
    for i in 0..n {
        let (xi, yi) = ring[i];
        let (xj, yj) = ring[j];
        if (yi > p.1) != (yj > p.1) && p.0 < (xj - xi) * (p.1 - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

fn on_ring(p: P, ring: &[P]) -> bool {
    ring.windows(2).any(|w| on_segment(p, w[0], w[1]))
}

const EPS: f64 = 1e-12;

fn cross(o: P, a: P, b: P) -> f64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

fn on_segment(p: P, a: P, b: P) -> bool {
    cross(a, b, p).abs() <= EPS * (1.0 + (b.0 - a.0).abs() + (b.1 - a.1).abs())
        && p.0 >= a.0.min(b.0) - EPS
        && p.0 <= a.0.max(b.0) + EPS
        && p.1 >= a.1.min(b.1) - EPS
        && p.1 <= a.1.max(b.1) + EPS
}

fn segments_cross(a: P, b: P, c: P, d: P) -> bool {
    let d1 = cross(c, d, a);
    let d2 = cross(c, d, b);
    let d3 = cross(a, b, c);
    let d4 = cross(a, b, d);
    ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0)) && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
        || on_segment(a, c, d)
        || on_segment(b, c, d)
        || on_segment(c, a, b)
        || on_segment(d, a, b)
}

fn closest_on_segment(p: P, a: P, b: P) -> P {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let l2 = dx * dx + dy * dy;
    if l2 == 0.0 {
        return a;
    }
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / l2).clamp(0.0, 1.0);
    (a.0 + t * dx, a.1 + t * dy)
}

/// Great-circle distance in metres.
pub fn haversine(a: P, b: P) -> f64 {
    let r = 6_371_008.8;
    let (la1, la2) = (a.1.to_radians(), b.1.to_radians());
    let dla = la2 - la1;
    let dlo = (b.0 - a.0).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().min(1.0).asin()
}

/// A geo-query: relation, query geometry, and the attribute it applies to.
#[derive(Clone, Debug, PartialEq)]
pub struct GeoQuery {
    pub rel: GeoRel,
    pub geometry: Geometry,
    /// Expanded attribute name (default `location`).
    pub property: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum GeoRel {
    Near { max: Option<f64>, min: Option<f64> },
    Within,
    Contains,
    Intersects,
    Disjoint,
    Equals,
    Overlaps,
}

impl GeoRel {
    /// Parse a `georel` value (`near;maxDistance==2000`, `within`, ...).
    pub fn parse(s: &str) -> Result<GeoRel, String> {
        let mut parts = s.split(';');
        let head = parts.next().unwrap_or("");
        let r = match head {
            "near" => {
                let (mut max, mut min) = (None, None);
                for p in parts {
                    let (k, v) = p.split_once("==").ok_or_else(|| format!("georel: {p:?} is not name==number"))?;
                    let n: f64 = v.parse().map_err(|_| format!("georel: {v:?} is not a number"))?;
                    if !n.is_finite() || n < 0.0 {
                        return Err(format!("georel: {k} must be a non-negative number"));
                    }
                    match k {
                        "maxDistance" => max = Some(n),
                        "minDistance" => min = Some(n),
                        _ => return Err(format!("georel: unknown modifier {k:?}")),
                    }
                }
                if max.is_none() && min.is_none() {
                    return Err("georel: near needs maxDistance or minDistance".into());
                }
                return Ok(GeoRel::Near { max, min });
            }
            "within" => GeoRel::Within,
            "contains" => GeoRel::Contains,
            "intersects" => GeoRel::Intersects,
            "disjoint" => GeoRel::Disjoint,
            "equals" => GeoRel::Equals,
            "overlaps" => GeoRel::Overlaps,
            other => return Err(format!("georel: unknown relation {other:?}")),
        };
        if parts.next().is_some() {
            return Err(format!("georel: {head} takes no modifiers"));
        }
        Ok(r)
    }
}

impl GeoQuery {
    /// Parse `georel`, `geometry` and `coordinates` (the latter as JSON text).
    pub fn parse(georel: &str, geometry: &str, coordinates: &str, property: String) -> Result<GeoQuery, String> {
        let rel = GeoRel::parse(georel)?;
        let c: Value = serde_json::from_str(coordinates).map_err(|_| "coordinates: not a JSON array".to_string())?;
        let g = Geometry::from_parts(geometry, &c).map_err(|e| format!("geometry/coordinates: {e}"))?;
        if matches!(rel, GeoRel::Near { .. }) && g.points.is_empty() {
            return Err("georel near needs a Point".into());
        }
        Ok(GeoQuery { rel, geometry: g, property })
    }

    /// Whether `g` (an entity's geometry) matches.
    pub fn matches(&self, g: &Geometry) -> bool {
        match &self.rel {
            GeoRel::Near { max, min } => {
                let p = self.geometry.points[0];
                let d = g.distance_to(p);
                max.is_none_or(|m| d <= m) && min.is_none_or(|m| d >= m)
            }
            GeoRel::Within => g.within(&self.geometry),
            GeoRel::Contains => self.geometry.within(g),
            GeoRel::Intersects => g.intersects(&self.geometry),
            GeoRel::Disjoint => !g.intersects(&self.geometry),
            GeoRel::Equals => g.equals(&self.geometry),
            GeoRel::Overlaps => g.overlaps(&self.geometry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn relations() {
        let sq = Geometry::from_parts("Polygon", &json!([[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]])).unwrap();
        let p = Geometry::from_parts("Point", &json!([0.5, 0.5])).unwrap();
        let far = Geometry::from_parts("Point", &json!([2, 2])).unwrap();
        assert!(p.within(&sq) && !far.within(&sq));
        assert!(sq.within(&sq) && sq.equals(&sq));
        assert!(p.intersects(&sq) && !far.intersects(&sq));
        let l = Geometry::from_parts("LineString", &json!([[-1, 0.5], [2, 0.5]])).unwrap();
        assert!(l.intersects(&sq) && !l.within(&sq));
        let q = GeoQuery::parse("near;maxDistance==1000", "Point", "[0.5,0.5]", String::new()).unwrap();
        assert!(q.matches(&p) && !q.matches(&far));
        assert!(GeoRel::parse("near;maxDistance==x").is_err());
        assert!(Geometry::from_parts("Polygon", &json!([[[0, 0], [1, 0], [1, 1]]])).is_err());
        assert!(Geometry::from_parts("Point", &json!([200, 0])).is_err());
    }
}
