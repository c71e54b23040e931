//! GeoJSON is RFC 7946 and lands where the city is: `sim --geojson` and `gen --origin
//! --geojson` end to end, the CBEngine intersections back at the file's own lat/lon,
//! and GDAL's `ogrinfo` (Debian `gdal-bin`) reporting the extent in WGS84.
//!
//! Needs `../shared/data` (or `$CITYBRAIN_DATA`) for the real cities, and `ogrinfo` for
//! the GDAL check. Without them the parts skip with a message, except under `CI=true`,
//! where they fail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn citybrain(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_citybrain")).args(args).output().expect("run citybrain");
    assert!(out.status.success(), "citybrain {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `citybrain sim` of zero steps on these files, writing the network's GeoJSON to `out`.
fn geojson_of(roadnet: &Path, flow: &Path, out: &Path) {
    citybrain(&[
        "sim",
        "--roadnet",
        roadnet.to_str().unwrap(),
        "--flow",
        flow.to_str().unwrap(),
        "--steps",
        "0",
        "--geojson",
        out.to_str().unwrap(),
    ]);
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("citybrain-geojson-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Every position of the collection, and the intersections' positions by id.
fn positions(g: &Value) -> (Vec<[f64; 2]>, HashMap<String, [f64; 2]>) {
    let pos = |v: &Value| [v[0].as_f64().unwrap(), v[1].as_f64().unwrap()];
    let (mut all, mut inters) = (Vec::new(), HashMap::new());
    for f in g["features"].as_array().unwrap() {
        let c = &f["geometry"]["coordinates"];
        match f["geometry"]["type"].as_str().unwrap() {
            "Point" => {
                all.push(pos(c));
                inters.insert(f["id"].as_str().unwrap().to_string(), pos(c));
            }
            "LineString" => all.extend(c.as_array().unwrap().iter().map(pos)),
            t => panic!("unexpected geometry {t}"),
        }
    }
    (all, inters)
}

/// Asserts the collection is RFC 7946 with every position inside the lon/lat box.
fn assert_wgs84_within(g: &Value, lon: (f64, f64), lat: (f64, f64)) {
    assert_eq!(g["type"], "FeatureCollection");
    assert!(g.get("crs").is_none(), "RFC 7946 has no crs member");
    let (all, _) = positions(g);
    assert!(!all.is_empty());
    for [x, y] in all {
        assert!((lon.0..=lon.1).contains(&x) && (lat.0..=lat.1).contains(&y), "position {x},{y} outside {lon:?} {lat:?}");
    }
}

/// GDAL's view of the file: `ogrinfo -so` summary text, or `None` (skipped) when
/// `ogrinfo` is not installed.
fn ogrinfo(file: &Path) -> Option<String> {
    match Command::new("ogrinfo").args(["-ro", "-so", "-al"]).arg(file).output() {
        Ok(out) => {
            assert!(out.status.success(), "ogrinfo failed: {}", String::from_utf8_lossy(&out.stderr));
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but ogrinfo cannot run ({e}); apt-get install gdal-bin");
            }
            eprintln!("SKIPPED: ogrinfo not available ({e}); apt-get install gdal-bin");
            None
        }
    }
}

/// The `Extent: (x0, y0) - (x1, y1)` line of an ogrinfo summary.
fn extent(info: &str) -> [f64; 4] {
    let line = info.lines().find(|l| l.starts_with("Extent:")).unwrap_or_else(|| panic!("no extent in {info}"));
    let nums: Vec<f64> = line
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter(|t| !t.is_empty() && *t != "-")
        .map(|t| t.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 4, "{line}");
    [nums[0], nums[1], nums[2], nums[3]]
}

#[test]
fn nanchang_lands_on_its_own_lat_lon() {
    let Some(dir) = testdata::data_dir() else { return };
    let d = dir.join("cbengine/nanchang_round2");
    let tmp = scratch("nanchang");
    let out = tmp.join("nanchang.geojson");
    let (r, f) = (d.join("roadnet.txt"), d.join("flow.txt"));
    geojson_of(&r, &f, &out);
    let g = read_json(&out);
    assert_wgs84_within(&g, (115.7, 116.05), (28.55, 28.8));
    // Every intersection is where roadnet.txt puts it (`lat lon id signalised` lines).
    let (_, inters) = positions(&g);
    let text = std::fs::read_to_string(&r).unwrap();
    let n: usize = text.lines().next().unwrap().trim().parse().unwrap();
    for line in text.lines().skip(1).take(n) {
        let t: Vec<&str> = line.split_whitespace().collect();
        let (lat, lon): (f64, f64) = (t[0].parse().unwrap(), t[1].parse().unwrap());
        let [x, y] = inters[t[2]];
        assert!((x - lon).abs() < 2e-7 && (y - lat).abs() < 2e-7, "intersection {}: {x},{y} vs file {lon},{lat}", t[2]);
    }
    if let Some(info) = ogrinfo(&out) {
        assert!(info.contains("WGS 84"), "{info}");
        let [x0, y0, x1, y1] = extent(&info);
        assert!(x0 > 115.7 && x1 < 116.05 && y0 > 28.55 && y1 < 28.8, "Nanchang extent {x0},{y0} - {x1},{y1}");
        assert!(x1 - x0 > 0.1 && y1 - y0 > 0.1, "the city spans kilometres: {x0},{y0} - {x1},{y1}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn hangzhou_cityflow_and_sumo_land_at_west_lake() {
    let Some(dir) = testdata::data_dir() else { return };
    let tmp = scratch("hangzhou");
    let cf = dir.join("cityflow/hangzhou_4x4");
    let su = dir.join("sumo/hangzhou_4x4");
    let runs = [
        ("cityflow", cf.join("roadnet.json"), cf.join("flow.json")),
        ("sumo", su.join("hangzhou_4x4.net.xml"), su.join("hangzhou_4x4.rou.xml")),
    ];
    let mut extents = Vec::new();
    for (name, r, f) in runs {
        let out = tmp.join(format!("{name}.geojson"));
        geojson_of(&r, &f, &out);
        let g = read_json(&out);
        // The default origin, West Lake (120.15, 30.25), is CityFlow's (0, 0).
        assert_wgs84_within(&g, (120.14, 120.19), (30.24, 30.28));
        assert_eq!(g["georef"]["assumed"], true);
        extents.push(positions(&g).1);
        if let Some(info) = ogrinfo(&out) {
            let [x0, y0, x1, y1] = extent(&info);
            assert!(x0 > 120.14 && x1 < 120.19 && y0 > 30.24 && y1 < 30.28, "{name}: {x0},{y0} - {x1},{y1}");
        }
    }
    // SUMO's plain-offset copy of the CityFlow file lands on it (netOffset undone).
    let (c, s) = (&extents[0], &extents[1]);
    let mut matched = 0;
    for (id, [x, y]) in c {
        if let Some([u, v]) = s.get(id) {
            assert!((x - u).abs() < 2e-7 && (y - v).abs() < 2e-7, "{id}: {x},{y} vs {u},{v}");
            matched += 1;
        }
    }
    assert!(matched > 10, "only {matched} intersections share ids");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn generated_city_goes_to_origin_and_local_metres_on_request() {
    let tmp = scratch("gen");
    let (wgs, local) = (tmp.join("wgs.geojson"), tmp.join("local.geojson"));
    let city = tmp.join("city");
    let args = ["gen", "--rows", "3", "--cols", "3", "--out", city.to_str().unwrap(), "--origin", "-74.0445,40.6892"];
    citybrain(&[&args[..], &["--geojson", wgs.to_str().unwrap()]].concat());
    citybrain(&[&args[..], &["--geojson", local.to_str().unwrap(), "--geojson-local"]].concat());
    let g = read_json(&wgs);
    assert_wgs84_within(&g, (-74.06, -74.02), (40.67, 40.71));
    let l = read_json(&local);
    assert_eq!(l["georef"]["frame"], "local");
    let (all, _) = positions(&l);
    assert!(all.iter().any(|p| p[0].abs() > 100.0), "local metres, not degrees");
    if let Some(info) = ogrinfo(&wgs) {
        let [x0, y0, x1, y1] = extent(&info);
        assert!(x0 > -74.06 && x1 < -74.02 && y0 > 40.67 && y1 < 40.71, "{x0},{y0} - {x1},{y1}");
    }
    // A bad origin is a clear error, not a panic.
    let out = Command::new(env!("CARGO_BIN_EXE_citybrain")).args(["gen", "--origin", "200,0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a valid longitude/latitude"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
