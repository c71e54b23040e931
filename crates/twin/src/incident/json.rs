//! The incident scenario file: JSON, checked field by field against the network, every
//! error naming the JSON path of the field (`incidents[3].pos_m`).
//!
//! ```json
//! {
//!   "incidents": [
//!     {"id": 1, "type": "crash", "road": "road_1_1_0", "lanes": [0, 1], "pos_m": 120,
//!      "length_m": 10, "start_s": 600, "end_s": 1500},
//!     {"id": 2, "type": "signal_failure", "intersection": "intersection_1_1",
//!      "fault": "dark", "start_s": 0, "end_s": 900},
//!     {"id": 3, "type": "flood", "road": "road_2_1_2", "start_s": 0, "end_s": 900}
//!   ],
//!   "decoys": [{"id": 100, "road": "road_1_1_0", "start_s": 0, "end_s": 600,
//!               "vehicles_per_hour": 600}]
//! }
//! ```
//! `lanes` defaults to the kerb (outermost) lane for `stalled` and `illegal_parking` (the
//! only lane `illegal_parking` accepts) and is required for `crash` and `road_works`;
//! `length_m` defaults to [`IncidentKind::default_length_m`]. Unknown fields are errors
//! (a typo must not silently drop a setting).

use serde_json::{Map, Value};

use super::{Decoy, Incident, IncidentError, IncidentKind, IncidentPlan, Location, SignalFault};
use city::network::Network;

type Obj = Map<String, Value>;

impl IncidentPlan {
    /// Read an incident file (see the module documentation) for network `net`.
    pub fn from_json(text: &str, net: &Network) -> Result<IncidentPlan, IncidentError> {
        let root: Value = serde_json::from_str(text).map_err(|e| IncidentError::Json(e.to_string()))?;
        let root = root.as_object().ok_or_else(|| IncidentError::field("$", "expected an object"))?;
        known(root, "$", &["incidents", "decoys"])?;
        let mut plan = IncidentPlan::default();
        for (k, v) in array(root, "incidents")?.iter().enumerate() {
            plan.incidents.push(incident(v, &format!("incidents[{k}]"), net)?);
        }
        for (k, v) in array(root, "decoys")?.iter().enumerate() {
            plan.decoys.push(decoy(v, &format!("decoys[{k}]"), net)?);
        }
        plan.check_ids()?;
        Ok(plan)
    }

    /// Incident ids are unique, and so are decoy ids.
    pub(crate) fn check_ids(&self) -> Result<(), IncidentError> {
        let mut seen = std::collections::BTreeSet::new();
        for (k, i) in self.incidents.iter().enumerate() {
            if !seen.insert(i.id) {
                return Err(IncidentError::field(format!("incidents[{k}].id"), format!("id {} is used twice", i.id)));
            }
        }
        seen.clear();
        for (k, d) in self.decoys.iter().enumerate() {
            if !seen.insert(d.id) {
                return Err(IncidentError::field(format!("decoys[{k}].id"), format!("id {} is used twice", d.id)));
            }
        }
        Ok(())
    }
}

fn array<'a>(o: &'a Obj, key: &str) -> Result<&'a [Value], IncidentError> {
    match o.get(key) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(IncidentError::field(key, "expected an array")),
    }
}

fn known(o: &Obj, path: &str, keys: &[&str]) -> Result<(), IncidentError> {
    match o.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => {
            Err(IncidentError::field(format!("{path}.{k}"), format!("unknown field (expected one of {})", keys.join(", "))))
        }
        None => Ok(()),
    }
}

fn num(o: &Obj, path: &str, key: &str) -> Result<Option<f64>, IncidentError> {
    match o.get(key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(IncidentError::field(format!("{path}.{key}"), "expected a finite number")),
        },
    }
}

fn req_num(o: &Obj, path: &str, key: &str) -> Result<f64, IncidentError> {
    num(o, path, key)?.ok_or_else(|| IncidentError::field(format!("{path}.{key}"), "missing"))
}

fn req_str<'a>(o: &'a Obj, path: &str, key: &str) -> Result<&'a str, IncidentError> {
    match o.get(key) {
        None => Err(IncidentError::field(format!("{path}.{key}"), "missing")),
        Some(v) => v.as_str().ok_or_else(|| IncidentError::field(format!("{path}.{key}"), "expected a string")),
    }
}

fn id(o: &Obj, path: &str) -> Result<u32, IncidentError> {
    match o.get("id") {
        None => Err(IncidentError::field(format!("{path}.id"), "missing")),
        Some(v) => v
            .as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .ok_or_else(|| IncidentError::field(format!("{path}.id"), "expected an integer in 0..=4294967295")),
    }
}

/// `start_s` and `end_s`: finite, `0 <= start_s < end_s`.
fn window(o: &Obj, path: &str) -> Result<(f64, f64), IncidentError> {
    let start = req_num(o, path, "start_s")?;
    if start < 0.0 {
        return Err(IncidentError::field(format!("{path}.start_s"), "must not be negative"));
    }
    let end = req_num(o, path, "end_s")?;
    if end <= start {
        return Err(IncidentError::field(format!("{path}.end_s"), format!("must be after start_s ({start})")));
    }
    Ok((start, end))
}

fn road(o: &Obj, path: &str, net: &Network) -> Result<city::ids::RoadId, IncidentError> {
    let name = req_str(o, path, "road")?;
    net.road_by_name(name).ok_or_else(|| IncidentError::field(format!("{path}.road"), format!("no road named {name:?}")))
}

fn incident(v: &Value, path: &str, net: &Network) -> Result<Incident, IncidentError> {
    let o = v.as_object().ok_or_else(|| IncidentError::field(path, "expected an object"))?;
    let id = id(o, path)?;
    let ty = req_str(o, path, "type")?;
    let kind = IncidentKind::from_name(ty).ok_or_else(|| {
        let names: Vec<&str> = IncidentKind::ALL.iter().map(|k| k.name()).collect();
        IncidentError::field(format!("{path}.type"), format!("unknown type {ty:?} (expected one of {})", names.join(", ")))
    })?;
    let (start_s, end_s) = window(o, path)?;
    let location = match kind {
        IncidentKind::SignalFailure => {
            known(o, path, &["id", "type", "intersection", "fault", "start_s", "end_s"])?;
            let name = req_str(o, path, "intersection")?;
            let i = net
                .intersection_by_name(name)
                .ok_or_else(|| IncidentError::field(format!("{path}.intersection"), format!("no intersection named {name:?}")))?;
            if !net.intersection(i).is_signalised() {
                return Err(IncidentError::field(format!("{path}.intersection"), format!("{name:?} has no signals")));
            }
            let fault = match o.get("fault").map(|f| f.as_str()) {
                None | Some(Some("dark")) => SignalFault::Dark,
                Some(Some("flashing")) => SignalFault::Flashing,
                _ => return Err(IncidentError::field(format!("{path}.fault"), "expected \"dark\" or \"flashing\"")),
            };
            Location::Junction { intersection: i, fault }
        }
        IncidentKind::Flood => {
            known(o, path, &["id", "type", "road", "start_s", "end_s"])?;
            Location::Road { road: road(o, path, net)? }
        }
        _ => {
            known(o, path, &["id", "type", "road", "lanes", "pos_m", "length_m", "start_s", "end_s"])?;
            let r = road(o, path, net)?;
            let n = net.road(r).lane_count;
            let kerb = n.saturating_sub(1);
            let lanes = match o.get("lanes") {
                None if matches!(kind, IncidentKind::Stalled | IncidentKind::IllegalParking) => vec![kerb],
                None => return Err(IncidentError::field(format!("{path}.lanes"), "missing")),
                Some(v) => lane_list(v, &format!("{path}.lanes"), n)?,
            };
            if kind == IncidentKind::IllegalParking && lanes != [kerb] {
                return Err(IncidentError::field(
                    format!("{path}.lanes"),
                    format!("illegal parking is in the kerb lane, [{kerb}]"),
                ));
            }
            let len = net.road_length(r);
            let pos_m = req_num(o, path, "pos_m")?;
            if !(0.0..len).contains(&pos_m) {
                return Err(IncidentError::field(format!("{path}.pos_m"), format!("must be in [0, {len}) (the road's length)")));
            }
            let length_m = num(o, path, "length_m")?.unwrap_or(kind.default_length_m());
            if length_m <= 0.0 {
                return Err(IncidentError::field(format!("{path}.length_m"), "must be positive"));
            }
            Location::Lanes { road: r, lanes, pos_m, length_m }
        }
    };
    Ok(Incident { id, kind, location, start_s, end_s })
}

fn lane_list(v: &Value, path: &str, n: u32) -> Result<Vec<u32>, IncidentError> {
    let a = v.as_array().ok_or_else(|| IncidentError::field(path, "expected an array of lane indices"))?;
    if a.is_empty() {
        return Err(IncidentError::field(path, "must name at least one lane"));
    }
    let mut out: Vec<u32> = Vec::with_capacity(a.len());
    for (k, x) in a.iter().enumerate() {
        let l = x
            .as_u64()
            .filter(|&l| l < n as u64)
            .ok_or_else(|| IncidentError::field(format!("{path}[{k}]"), format!("expected a lane index in 0..{n}")))?
            as u32;
        if out.contains(&l) {
            return Err(IncidentError::field(format!("{path}[{k}]"), format!("lane {l} is listed twice")));
        }
        out.push(l);
    }
    Ok(out)
}

fn decoy(v: &Value, path: &str, net: &Network) -> Result<Decoy, IncidentError> {
    let o = v.as_object().ok_or_else(|| IncidentError::field(path, "expected an object"))?;
    known(o, path, &["id", "road", "start_s", "end_s", "vehicles_per_hour"])?;
    let id = id(o, path)?;
    let road = road(o, path, net)?;
    let (start_s, end_s) = window(o, path)?;
    let vehicles_per_hour = req_num(o, path, "vehicles_per_hour")?;
    if !(vehicles_per_hour > 0.0 && vehicles_per_hour <= 7200.0) {
        return Err(IncidentError::field(format!("{path}.vehicles_per_hour"), "must be in (0, 7200]"));
    }
    Ok(Decoy { id, road, start_s, end_s, vehicles_per_hour })
}
