use proptest::prelude::*;

use super::*;

/// Reference points: WGS84 (lon, lat) and the UTM easting/northing that PROJ 9.1.1 gives
/// for them (`echo "LAT LON" | cs2cs -d 4 EPSG:4326 EPSG:326ZZ` / `EPSG:327ZZ`), with
/// the zone and hemisphere.
const UTM_POINTS: [(f64, f64, i64, bool, f64, f64); 9] = [
    (115.9, 28.7, 50, false, 392548.5977, 3175244.2977),   // Nanchang
    (120.15, 30.25, 51, false, 225759.5925, 3349925.7404), // West Lake, Hangzhou (zone 51 west edge)
    (115.0, 28.0, 50, false, 303332.4590, 3098814.2536),
    (-0.1275, 51.507222, 30, false, 699337.8261, 5710144.7851), // London
    (151.2093, -33.8688, 56, true, 334368.6336, 6250948.3454),  // Sydney
    (-74.0445, 40.6892, 18, false, 580735.8707, 4504695.1652),  // New York harbour
    (-19.9, -12.5, 27, true, 619526.4746, 8617907.9859),
    (-177.0, 0.0, 1, false, 500000.0, 0.0),
    (180.0, 84.0, 60, false, 534994.6551, 9329005.1824),
];

#[test]
fn utm_matches_published_coordinates_to_the_millimetre() {
    for (lon, lat, zone, south, e, n) in UTM_POINTS {
        let crs = Crs::utm(zone, south).unwrap();
        let p = crs.project(lon, lat);
        assert!((p.x - e).abs() < 1e-3 && (p.y - n).abs() < 1e-3, "{lon},{lat} zone {zone}: got {p:?}, want {e}, {n}");
        let (lo, la) = crs.unproject(Point::new(e, n));
        // 1e-8 degrees is about a millimetre.
        let dlon = (lo - lon + 540.0).rem_euclid(360.0) - 180.0;
        assert!(dlon.abs() < 1e-8 && (la - lat).abs() < 1e-8, "{e},{n} zone {zone}: got {lo},{la}, want {lon},{lat}");
    }
}

#[test]
fn local_plane_matches_proj_tmerc() {
    // `echo "121.0 31.0" | cs2cs -d 4 +proj=longlat +datum=WGS84 +to +proj=tmerc
    //  +lat_0=30.25 +lon_0=120.15 +k=1 +x_0=0 +y_0=0 +ellps=WGS84` gives 81180.0318 83457.4395.
    let crs = Crs::local(120.15, 30.25).unwrap();
    let p = crs.project(121.0, 31.0);
    assert!((p.x - 81180.0318).abs() < 1e-3 && (p.y - 83457.4395).abs() < 1e-3, "{p:?}");
    let o = crs.project(120.15, 30.25);
    assert!(o.x.abs() < 1e-9 && o.y.abs() < 1e-6, "the origin is (0, 0): {o:?}");
    // Scale 1 near the origin: 1 km east is 1 km.
    let (lon, lat) = crs.unproject(Point::new(1000.0, 0.0));
    let back = crs.project(lon, lat);
    assert!((back.x - 1000.0).abs() < 1e-6 && back.y.abs() < 1e-6);
}

#[test]
fn equirectangular_is_the_cbengine_projection_bit_for_bit() {
    // The CBEngine importer's formula before the georeference existed.
    let (lat0, lon0) = (28.6953, 115.8862);
    let old = |lon: f64, lat: f64| {
        let k_lat = 6_371_000.0 * PI / 180.0;
        let k_lon = k_lat * (lat0 * PI / 180.0).cos();
        ((lon - lon0) * k_lon, (lat - lat0) * k_lat)
    };
    let crs = Crs::Equirectangular { lon0, lat0, radius_m: CBENGINE_RADIUS_M };
    for (lon, lat) in [(115.9, 28.7), (115.80001, 28.61), (116.02, 28.79), (lon0, lat0)] {
        let p = crs.project(lon, lat);
        let (x, y) = old(lon, lat);
        assert_eq!((p.x.to_bits(), p.y.to_bits()), (x.to_bits(), y.to_bits()));
    }
}

#[test]
fn georef_offset_is_added_after_projecting() {
    let g = Georef::new(Crs::utm(50, false).unwrap(), Point::new(-392000.0, -3175000.0));
    let p = g.to_local(115.9, 28.7);
    assert!((p.x - 548.5977).abs() < 1e-3 && (p.y - 244.2977).abs() < 1e-3, "{p:?}");
    let (lon, lat) = g.to_lonlat(p);
    assert!((lon - 115.9).abs() < 1e-9 && (lat - 28.7).abs() < 1e-9);
    assert!(!g.assumed);
    assert!(g.anchored_at(1.0, 2.0).unwrap().is_none(), "a file's own reference is kept");
}

#[test]
fn default_is_west_lake_and_can_be_re_anchored() {
    let g = Georef::default();
    assert!(g.assumed);
    let (lon, lat) = g.to_lonlat(Point::new(0.0, 0.0));
    assert!((lon - 120.15).abs() < 1e-12 && (lat - 30.25).abs() < 1e-9, "{lon},{lat}");
    let moved = g.anchored_at(115.9, 28.7).unwrap().unwrap();
    let (lon, lat) = moved.to_lonlat(Point::new(0.0, 0.0));
    assert!((lon - 115.9).abs() < 1e-12 && (lat - 28.7).abs() < 1e-9);
    assert!(g.anchored_at(200.0, 0.0).is_err());
}

#[test]
fn origins_parse_and_bad_ones_are_named() {
    assert_eq!(parse_origin("115.9,28.7"), Ok((115.9, 28.7)));
    assert_eq!(parse_origin(" -74.04 , 40.69 "), Ok((-74.04, 40.69)));
    for bad in ["", "115.9", "115.9,28.7,3", "east,north", "NaN,1", "1,inf", "181,0", "0,86", "1e400,0"] {
        let e = parse_origin(bad).expect_err(bad);
        assert!(e.to_string().contains("origin"), "{bad}: {e}");
    }
    assert_eq!(Crs::utm(0, false), Err(GeoError::BadZone(0)));
    assert_eq!(Crs::utm(61, true), Err(GeoError::BadZone(61)));
}

fn close_lonlat(a: (f64, f64), b: (f64, f64), tol: f64) -> bool {
    let dlon = (a.0 - b.0 + 540.0).rem_euclid(360.0) - 180.0;
    dlon.abs() <= tol && (a.1 - b.1).abs() <= tol
}

proptest! {
    #[test]
    fn utm_round_trips(zone in 1i64..=60, dlon in -3.0f64..3.0, lat in -80.0f64..84.0) {
        let crs = Crs::utm(zone, lat < 0.0).unwrap();
        let lon = normalise_lon(zone as f64 * 6.0 - 183.0 + dlon);
        let p = crs.project(lon, lat);
        prop_assert!(close_lonlat(crs.unproject(p), (lon, lat), 1e-9), "{lon},{lat} -> {p:?} -> {:?}", crs.unproject(p));
        let q = crs.project(crs.unproject(p).0, crs.unproject(p).1);
        prop_assert!((q.x - p.x).abs() < 1e-4 && (q.y - p.y).abs() < 1e-4);
    }

    #[test]
    fn local_plane_round_trips(lon0 in -180.0f64..180.0, lat0 in -80.0f64..80.0, x in -50e3f64..50e3, y in -50e3f64..50e3) {
        let crs = Crs::local(lon0, lat0).unwrap();
        let ll = crs.unproject(Point::new(x, y));
        let p = crs.project(ll.0, ll.1);
        prop_assert!((p.x - x).abs() < 1e-4 && (p.y - y).abs() < 1e-4, "{x},{y} -> {ll:?} -> {p:?}");
    }

    #[test]
    fn equirectangular_round_trips(lon0 in -179.0f64..179.0, lat0 in -80.0f64..80.0, dx in -0.5f64..0.5, dy in -0.5f64..0.5) {
        let crs = Crs::Equirectangular { lon0, lat0, radius_m: CBENGINE_RADIUS_M };
        let (lon, lat) = (lon0 + dx, lat0 + dy);
        let p = crs.project(lon, lat);
        prop_assert!(close_lonlat(crs.unproject(p), (lon, lat), 1e-9));
    }

    #[test]
    fn hostile_origins_never_panic(s in "\\PC{0,40}") {
        let _ = parse_origin(&s);
    }

    #[test]
    fn any_numbers_never_panic(lon in proptest::num::f64::ANY, lat in proptest::num::f64::ANY, zone in 1i64..=60) {
        for crs in [Crs::utm(zone, false).unwrap(), Crs::Local { lon0: 120.0, lat0: 30.0 }] {
            let p = crs.project(lon, lat);
            let _ = crs.unproject(p);
            let _ = crs.unproject(Point::new(lon, lat));
        }
    }
}
