//! Georeference: where a network's metres are on the Earth.
//!
//! Network coordinates are metres, x east and y north, in a plane. A [`Georef`] says
//! which plane: a coordinate reference system ([`Crs`]) that projects WGS84 longitude
//! and latitude to metres, plus an offset added after projecting (SUMO's `netOffset`):
//!
//! `network = project(lon, lat) + offset`, `(lon, lat) = unproject(network - offset)`.
//!
//! Where each importer gets its reference:
//! - **CBEngine** files hold latitude/longitude; the importer projects them with
//!   [`Crs::Equirectangular`] around their mean position (a sphere of radius
//!   [`CBENGINE_RADIUS_M`]), and the network keeps exactly that projection, so lon/lat go
//!   back where the file had them.
//! - **SUMO** networks honour `<location netOffset projParameter>`: `+proj=utm +zone=N
//!   [+south]` becomes [`Crs::Utm`]; `"!"` (no projection: plain offsets) and a missing
//!   `<location>` leave the plane without a place on Earth, which is anchored like a
//!   CityFlow file (below). Other projections are an import error naming them.
//! - **CityFlow** files and generated cities have no reference of their own: they get a
//!   [`Crs::Local`] plane whose (0, 0) is an origin given on the command line or in the
//!   config (`--origin LON,LAT`, config key `origin`), by default [`DEFAULT_ORIGIN`]
//!   (West Lake, Hangzhou: 120.15 E, 30.25 N). Such a reference is marked
//!   [`Georef::assumed`].
//!
//! Projections are written here (no dependency): transverse Mercator by Krüger's series
//! to sixth order in the third flattening ([`tm`]), accurate to well under a millimetre
//! within a UTM zone.

#[cfg(test)]
mod tests;
pub mod tm;

use std::f64::consts::PI;

use crate::geom::Point;

/// West Lake, Hangzhou (lon, lat): the origin of networks that carry no reference.
pub const DEFAULT_ORIGIN: (f64, f64) = (120.15, 30.25);

/// Radius of the sphere in the CBEngine importer's equirectangular projection, metres.
pub const CBENGINE_RADIUS_M: f64 = 6_371_000.0;

/// A problem with a georeference: an origin or projection that cannot be used.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GeoError {
    #[error("origin {0:?}: expected LON,LAT in degrees (e.g. 120.15,30.25)")]
    MalformedOrigin(String),
    #[error("origin ({lon}, {lat}) is not a valid longitude/latitude (|lon| <= 180, |lat| <= 85)")]
    OriginOutOfRange { lon: f64, lat: f64 },
    #[error("UTM zone {0} is not in 1..=60")]
    BadZone(i64),
    #[error("unsupported projection {0:?}: supported are \"!\" (plain offsets) and \"+proj=utm +zone=N [+south]\" on WGS84")]
    Unsupported(String),
}

/// How network-plane metres relate to WGS84 longitude/latitude.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Crs {
    /// A local plane around an origin: transverse Mercator on WGS84 with scale 1,
    /// central meridian `lon0`, and `(lon0, lat0)` at (0, 0). Conformal; the scale
    /// error grows with the distance d from the central meridian as d²/2R²: about 1 ppm
    /// at 10 km, 5 ppm at 20 km.
    Local { lon0: f64, lat0: f64 },
    /// `x = (lon - lon0)·k·cos(lat0)`, `y = (lat - lat0)·k`, `k = radius·π/180`: the
    /// projection of the CBEngine importer (exactly, operation for operation).
    Equirectangular { lon0: f64, lat0: f64, radius_m: f64 },
    /// Universal Transverse Mercator on WGS84, zone 1..=60, northern or southern
    /// hemisphere (false northing 10,000 km).
    Utm { zone: u8, south: bool },
}

impl Crs {
    /// A local plane around `(lon, lat)`, checked.
    pub fn local(lon: f64, lat: f64) -> Result<Crs, GeoError> {
        check_origin(lon, lat)?;
        Ok(Crs::Local { lon0: lon, lat0: lat })
    }

    /// A UTM zone, checked.
    pub fn utm(zone: i64, south: bool) -> Result<Crs, GeoError> {
        if !(1..=60).contains(&zone) {
            return Err(GeoError::BadZone(zone));
        }
        Ok(Crs::Utm { zone: zone as u8, south })
    }

    /// Projected metres of a WGS84 position (no offset).
    pub fn project(&self, lon: f64, lat: f64) -> Point {
        match *self {
            Crs::Local { lon0, lat0 } => {
                let (x, y) = tm::forward(lat, lon - lon0);
                Point::new(x, y - tm::meridian_arc(lat0))
            }
            Crs::Equirectangular { lon0, lat0, radius_m } => {
                // Keep these operations as the CBEngine importer always did them: the
                // twin's geometry (and so its outputs) depends on every bit.
                let k_lat = radius_m * PI / 180.0;
                let k_lon = k_lat * (lat0 * PI / 180.0).cos();
                Point::new((lon - lon0) * k_lon, (lat - lat0) * k_lat)
            }
            Crs::Utm { zone, south } => {
                let (x, y) = tm::forward(lat, lon - utm_central_meridian(zone));
                Point::new(UTM_K0 * x + UTM_FALSE_EASTING, UTM_K0 * y + if south { UTM_FALSE_NORTHING_S } else { 0.0 })
            }
        }
    }

    /// The WGS84 position `(lon, lat)` of projected metres (no offset). Longitudes are
    /// normalised to (-180, 180].
    pub fn unproject(&self, p: Point) -> (f64, f64) {
        let (lon, lat) = match *self {
            Crs::Local { lon0, lat0 } => {
                let (lat, dlon) = tm::inverse(p.x, p.y + tm::meridian_arc(lat0));
                (lon0 + dlon, lat)
            }
            Crs::Equirectangular { lon0, lat0, radius_m } => {
                let k_lat = radius_m * PI / 180.0;
                let k_lon = k_lat * (lat0 * PI / 180.0).cos();
                (lon0 + p.x / k_lon, lat0 + p.y / k_lat)
            }
            Crs::Utm { zone, south } => {
                let y = p.y - if south { UTM_FALSE_NORTHING_S } else { 0.0 };
                let (lat, dlon) = tm::inverse((p.x - UTM_FALSE_EASTING) / UTM_K0, y / UTM_K0);
                (utm_central_meridian(zone) + dlon, lat)
            }
        };
        (normalise_lon(lon), lat)
    }

    /// A short human-readable name, e.g. `UTM zone 50N (WGS84)`.
    pub fn describe(&self) -> String {
        match *self {
            Crs::Local { lon0, lat0 } => format!("local plane (transverse Mercator, scale 1) at {lon0}, {lat0}"),
            Crs::Equirectangular { lon0, lat0, radius_m } => {
                format!("equirectangular at {lon0}, {lat0} (sphere of radius {radius_m} m)")
            }
            Crs::Utm { zone, south } => format!("UTM zone {zone}{} (WGS84)", if south { 'S' } else { 'N' }),
        }
    }

    /// The PROJ string of this projection (without the offset).
    pub fn proj_string(&self) -> String {
        match *self {
            Crs::Local { lon0, lat0 } => {
                format!("+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs")
            }
            Crs::Equirectangular { lon0, lat0, radius_m } => {
                format!("+proj=eqc +lat_ts={lat0} +lat_0={lat0} +lon_0={lon0} +x_0=0 +y_0=0 +R={radius_m} +units=m +no_defs")
            }
            Crs::Utm { zone, south } => {
                format!(
                    "+proj=utm +zone={zone}{} +ellps=WGS84 +datum=WGS84 +units=m +no_defs",
                    if south { " +south" } else { "" }
                )
            }
        }
    }
}

const UTM_K0: f64 = 0.9996;
const UTM_FALSE_EASTING: f64 = 500_000.0;
const UTM_FALSE_NORTHING_S: f64 = 10_000_000.0;

fn utm_central_meridian(zone: u8) -> f64 {
    f64::from(zone) * 6.0 - 183.0
}

fn normalise_lon(lon: f64) -> f64 {
    if lon > 180.0 {
        lon - 360.0
    } else if lon <= -180.0 {
        lon + 360.0
    } else {
        lon
    }
}

fn check_origin(lon: f64, lat: f64) -> Result<(), GeoError> {
    if lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 && lat.abs() <= 85.0 {
        Ok(())
    } else {
        Err(GeoError::OriginOutOfRange { lon, lat })
    }
}

/// Parse an origin `LON,LAT` (degrees, WGS84), as given by `--origin` or the config.
pub fn parse_origin(s: &str) -> Result<(f64, f64), GeoError> {
    let mut it = s.split(',');
    let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
        return Err(GeoError::MalformedOrigin(s.to_string()));
    };
    let num = |t: &str| t.trim().parse::<f64>().map_err(|_| GeoError::MalformedOrigin(s.to_string()));
    let (lon, lat) = (num(a)?, num(b)?);
    check_origin(lon, lat)?;
    Ok((lon, lat))
}

/// A network's reference: its projection and the offset added after projecting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Georef {
    pub crs: Crs,
    /// Added to projected metres to give network metres (SUMO's `netOffset`).
    pub offset: Point,
    /// True when the file said nothing about where it is and the reference is a fallback
    /// (a CityFlow file, a generated city, a SUMO network with plain offsets): then an
    /// origin given on the command line or in the config replaces it ([`Georef::anchored_at`]).
    pub assumed: bool,
}

impl Default for Georef {
    /// A local plane at [`DEFAULT_ORIGIN`], assumed.
    fn default() -> Self {
        Georef { crs: Crs::Local { lon0: DEFAULT_ORIGIN.0, lat0: DEFAULT_ORIGIN.1 }, offset: Point::new(0.0, 0.0), assumed: true }
    }
}

impl Georef {
    /// A reference the file gave (not assumed).
    pub fn new(crs: Crs, offset: Point) -> Georef {
        Georef { crs, offset, assumed: false }
    }

    /// A local plane whose network point `offset` is at `(lon, lat)`; assumed.
    pub fn local(lon: f64, lat: f64, offset: Point) -> Result<Georef, GeoError> {
        Ok(Georef { crs: Crs::local(lon, lat)?, offset, assumed: true })
    }

    /// This reference with its fallback origin replaced by `(lon, lat)`. A reference the
    /// file gave is returned unchanged (`Ok(None)` tells the caller to say so).
    pub fn anchored_at(&self, lon: f64, lat: f64) -> Result<Option<Georef>, GeoError> {
        if !self.assumed {
            return Ok(None);
        }
        Ok(Some(Georef::local(lon, lat, self.offset)?))
    }

    /// Network metres of a WGS84 position.
    pub fn to_local(&self, lon: f64, lat: f64) -> Point {
        let p = self.crs.project(lon, lat);
        Point::new(p.x + self.offset.x, p.y + self.offset.y)
    }

    /// The WGS84 position `(lon, lat)` of network metres.
    pub fn to_lonlat(&self, p: Point) -> (f64, f64) {
        self.crs.unproject(Point::new(p.x - self.offset.x, p.y - self.offset.y))
    }

    /// A short description, e.g. `UTM zone 50N (WGS84), offset (-12.5, 3.0) m`.
    pub fn describe(&self) -> String {
        let mut s = self.crs.describe();
        if self.offset.x != 0.0 || self.offset.y != 0.0 {
            s.push_str(&format!(", offset ({}, {}) m", self.offset.x, self.offset.y));
        }
        if self.assumed {
            s.push_str(" (assumed: the file gives no reference)");
        }
        s
    }
}
