//! SUMO's `<location netOffset convBoundary origBoundary projParameter>`: the network's
//! georeference. Net coordinates are projected coordinates plus `netOffset`.
//!
//! - `projParameter="+proj=utm +zone=N [+south]"` (with optional `+ellps=WGS84|GRS80`,
//!   `+datum=WGS84`, `+units=m`, `+no_defs`, `+type=crs`) is [`Crs::Utm`].
//! - `projParameter="!"` means plain offsets: the file says nothing about where the
//!   plane is. The network gets an assumed local plane whose projected (0, 0) is at
//!   [`crate::geo::DEFAULT_ORIGIN`] (or `--origin`), so a SUMO file converted from a
//!   CityFlow one lands where the CityFlow file does.
//! - Any other projection is an error naming it: placing the network silently in the
//!   wrong place would misplace every lon/lat record and map.
//! - No `<location>` at all: as `"!"` with a zero offset.
//!
//! `netOffset` must be finite and within 10,000 km; `convBoundary` and `origBoundary`
//! are checked for shape (four finite numbers) but not otherwise used (netgenerate
//! writes ±1e10 there for "unknown").

use super::xml::{At, Element};
use super::ImportError;
use crate::geo::{Crs, Georef, DEFAULT_ORIGIN};
use crate::geom::Point;

/// Coordinates beyond this (metres or degrees) are treated as corrupt.
const MAX_ABS: f64 = 1e7;

fn numbers(at: At, el: &Element, key: &str, n: usize) -> Result<Option<Vec<f64>>, ImportError> {
    bounded(at, el, key, n, MAX_ABS)
}

fn bounded(at: At, el: &Element, key: &str, n: usize, limit: f64) -> Result<Option<Vec<f64>>, ImportError> {
    let Some(s) = el.get(key) else { return Ok(None) };
    let v: Vec<Option<f64>> = s.split(',').map(|t| t.trim().parse::<f64>().ok()).collect();
    if v.len() != n || v.iter().any(|x| !matches!(x, Some(f) if f.is_finite() && f.abs() <= limit)) {
        let bound = if limit.is_finite() { format!(" (|v| <= {limit:e})") } else { String::new() };
        return Err(at.err(el, format!("{key}: expected {n} comma-separated finite numbers{bound}, got {s:?}")));
    }
    Ok(Some(v.into_iter().flatten().collect()))
}

/// The georeference of a SUMO network from its `<location>` element (`None`: absent).
pub(super) fn georef(at: At, el: Option<&Element>) -> Result<Georef, ImportError> {
    let Some(el) = el else {
        return Ok(Georef::default());
    };
    let offset = numbers(at, el, "netOffset", 2)?.map_or(Point::new(0.0, 0.0), |v| Point::new(v[0], v[1]));
    bounded(at, el, "convBoundary", 4, f64::INFINITY)?;
    bounded(at, el, "origBoundary", 4, f64::INFINITY)?;
    let proj = el.get("projParameter").unwrap_or("!").trim();
    if proj == "!" {
        let (lon, lat) = DEFAULT_ORIGIN;
        return Georef::local(lon, lat, offset).map_err(|e| at.err(el, e.to_string()));
    }
    let crs = parse_proj(proj).map_err(|m| at.err(el, format!("projParameter: {m}")))?;
    Ok(Georef::new(crs, offset))
}

/// A PROJ string: UTM on WGS84 only.
fn parse_proj(proj: &str) -> Result<Crs, String> {
    let unsupported = || {
        format!(
            "unsupported projection {proj:?}: supported are \"!\" (plain offsets) and \"+proj=utm +zone=N [+south]\" on WGS84"
        )
    };
    let (mut kind, mut zone, mut south) = (None, None, false);
    for tok in proj.split_whitespace() {
        let Some(t) = tok.strip_prefix('+') else { return Err(unsupported()) };
        let (k, v) = t.split_once('=').map_or((t, None), |(k, v)| (k, Some(v)));
        match (k, v) {
            ("proj", Some(p)) => kind = Some(p),
            ("zone", Some(z)) => zone = Some(z.parse::<i64>().map_err(|_| format!("UTM zone {z:?} is not a number"))?),
            ("south", None) => south = true,
            ("ellps", Some("WGS84" | "GRS80")) | ("datum", Some("WGS84")) | ("units", Some("m")) => {}
            ("no_defs" | "north", None) | ("type", Some("crs")) => {}
            ("towgs84", Some(v)) if v.split(',').all(|x| x.trim().parse::<f64>() == Ok(0.0)) => {}
            _ => return Err(unsupported()),
        }
    }
    match (kind, zone) {
        (Some("utm"), Some(z)) => Crs::utm(z, south).map_err(|e| e.to_string()),
        (Some("utm"), None) => Err("+proj=utm without +zone".into()),
        _ => Err(unsupported()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::sumo::parse_net;
    use crate::testutil::SUMO_CROSS_NET;

    fn with_location(loc: &str) -> String {
        SUMO_CROSS_NET.replacen("<net version=\"1.9\">", &format!("<net version=\"1.9\">\n    {loc}"), 1)
    }

    #[test]
    fn utm_location_places_the_network() {
        // A cross whose centre (0, 0) is Nanchang (115.9 E, 28.7 N): UTM 50N 392548.5977,
        // 3175244.2977 (PROJ), so netOffset is minus that.
        let loc = r#"<location netOffset="-392548.5977,-3175244.2977" convBoundary="-300,-300,300,300" origBoundary="115.8,28.6,116.0,28.8" projParameter="+proj=utm +zone=50 +ellps=WGS84 +datum=WGS84 +units=m +no_defs"/>"#;
        let (_, net) = parse_net(&with_location(loc), "x.net.xml").unwrap();
        assert!(!net.georef.assumed);
        let (lon, lat) = net.georef.to_lonlat(crate::Point::new(0.0, 0.0));
        assert!((lon - 115.9).abs() < 1e-8 && (lat - 28.7).abs() < 1e-8, "{lon},{lat}");
    }

    #[test]
    fn plain_offsets_and_no_location_fall_back_to_the_default_origin() {
        let (_, net) = parse_net(SUMO_CROSS_NET, "x.net.xml").unwrap();
        assert!(net.georef.assumed);
        assert_eq!(net.georef, crate::Georef::default());
        let loc = r#"<location netOffset="800.00,600.00" convBoundary="0.00,0.00,4000.00,3000.00" origBoundary="-800.00,-600.00,3200.00,2400.00" projParameter="!"/>"#;
        let (_, net) = parse_net(&with_location(loc), "x.net.xml").unwrap();
        assert!(net.georef.assumed);
        let (lon, lat) = net.georef.to_lonlat(crate::Point::new(800.0, 600.0));
        assert!((lon - 120.15).abs() < 1e-12 && (lat - 30.25).abs() < 1e-9, "{lon},{lat}");
    }

    #[test]
    fn bad_locations_are_errors_naming_the_field() {
        let cases = [
            (r#"<location netOffset="NaN,0" projParameter="!"/>"#, "netOffset"),
            (r#"<location netOffset="1e300,0" projParameter="!"/>"#, "netOffset"),
            (r#"<location netOffset="1,2,3" projParameter="!"/>"#, "netOffset"),
            (r#"<location netOffset="east" projParameter="!"/>"#, "netOffset"),
            (r#"<location convBoundary="0,0,inf,1" projParameter="!"/>"#, "convBoundary"),
            (r#"<location origBoundary="0,0,1" projParameter="!"/>"#, "origBoundary"),
            (r#"<location projParameter="+proj=merc +lat_ts=30"/>"#, "unsupported projection \"+proj=merc +lat_ts=30\""),
            (r#"<location projParameter="+proj=utm +zone=61"/>"#, "zone 61"),
            (r#"<location projParameter="+proj=utm +zone=x"/>"#, "zone \"x\""),
            (r#"<location projParameter="+proj=utm"/>"#, "without +zone"),
            (r#"<location projParameter="+proj=utm +zone=50 +ellps=intl"/>"#, "unsupported projection"),
            (r#"<location projParameter="EPSG:32650"/>"#, "unsupported projection"),
        ];
        for (loc, words) in cases {
            let e = parse_net(&with_location(loc), "x.net.xml").expect_err(loc);
            assert!(e.to_string().contains(words), "{loc}: {e}");
            assert_eq!(e.location, "line 3", "{e}");
        }
    }

    proptest! {
        #[test]
        fn hostile_location_attributes_never_panic(
            off in "[-+0-9.eE,naifNI ]{0,30}",
            conv in "[-+0-9.eE,naifNI ]{0,30}",
            proj in "[-+=a-zA-Z0-9_ !,]{0,40}",
        ) {
            let loc = format!(r#"<location netOffset="{off}" convBoundary="{conv}" projParameter="{proj}"/>"#);
            let _ = parse_net(&with_location(&loc), "x.net.xml");
        }

        #[test]
        fn any_utm_zone_and_offset_loads(zone in 1u32..=60, south: bool, x in -1e6f64..1e6, y in -1e7f64..1e7) {
            let loc = format!(
                r#"<location netOffset="{x},{y}" projParameter="+proj=utm +zone={zone}{}"/>"#,
                if south { " +south" } else { "" }
            );
            let (_, net) = parse_net(&with_location(&loc), "x.net.xml").unwrap();
            prop_assert_eq!(net.georef.crs, crate::Crs::Utm { zone: zone as u8, south });
            prop_assert_eq!(net.georef.offset, crate::Point::new(x, y));
        }
    }
}
