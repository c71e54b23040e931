//! The brain's own data as NGSI-LD entities of the default tenant, after the FIWARE Smart
//! Data Models: `Device` per sensor, `TrafficFlowObserved` per loop detector (its latest
//! interval), `RoadSegment` with the live road state, `TrafficSignal` per signalised
//! junction (stage shown, plan length), `Alert` per open incident. They are derived from
//! data the brain already keeps durably, so they live in memory (not in `ngsi.sqlite`),
//! are refreshed by the plug-in on each batch and tick, are readable and subscribable like
//! any entity, and are read-only to clients.
//!
//! The way in: a `TrafficFlowObserved` a department's system creates or upserts, naming
//! one of its loop detectors in `refDevice`, is not stored as an entity but turned into a
//! `loop` wire record and ingested through `Brain::ingest_body` (the same validation,
//! ownership check per record and storage as any observation).

use std::sync::{Arc, Weak};

use brain::{Brain, Context, Plugin, Tick};
use sense::{ObsData, SensorRegistry};
use serde_json::{json, Map, Value};
use twin::Network;

use crate::context::DEFAULT_VOCAB;
use crate::entities::Change;
use crate::error::NgsiError;
use crate::model::{Attr, Entity};
use crate::service::{Ngsi, Req};

/// The Smart Data Models namespace of the types used here.
pub const SDM_TRANSPORT: &str = "https://smartdatamodels.org/dataModel.Transportation/";
pub const SDM_DEVICE: &str = "https://smartdatamodels.org/dataModel.Device/";
pub const SDM_ALERT: &str = "https://smartdatamodels.org/dataModel.Alert/";

fn prop(v: Value, now: &str) -> Vec<Attr> {
    let mut a = Map::new();
    a.insert("type".into(), "Property".into());
    a.insert("value".into(), v);
    a.insert("createdAt".into(), now.into());
    a.insert("modifiedAt".into(), now.into());
    vec![a]
}

fn rel(obj: String, now: &str) -> Vec<Attr> {
    let mut a = Map::new();
    a.insert("type".into(), "Relationship".into());
    a.insert("object".into(), obj.into());
    a.insert("createdAt".into(), now.into());
    a.insert("modifiedAt".into(), now.into());
    vec![a]
}

fn geo(v: Value, now: &str) -> Vec<Attr> {
    let mut a = prop(v, now);
    a[0].insert("type".into(), "GeoProperty".into());
    a
}

fn entity(id: String, ty: String, now: &str, attrs: Vec<(String, Vec<Attr>)>) -> Entity {
    Entity {
        id,
        types: vec![ty],
        scope: None,
        created_at: now.into(),
        modified_at: now.into(),
        attrs: attrs.into_iter().collect(),
        brain: true,
    }
}

fn t(ns: &str, name: &str) -> String {
    format!("{ns}{name}")
}

fn lonlat(net: &Network, p: twin::Point) -> Value {
    let (lon, lat) = net.georef.to_lonlat(p);
    json!([(lon * 1e7).round() / 1e7, (lat * 1e7).round() / 1e7])
}

/// Device entities of the registry.
pub fn devices(net: &Network, reg: &SensorRegistry, now: &str) -> Vec<Entity> {
    reg.sensors()
        .map(|(_, s)| {
            let mut attrs = vec![
                (t(SDM_DEVICE, "category"), prop(json!(["sensor"]), now)),
                (t(SDM_DEVICE, "controlledProperty"), prop(json!([format!("{:?}", s.kind).to_lowercase()]), now)),
                (t(SDM_DEVICE, "owner"), prop(json!([s.owner]), now)),
                (t(DEFAULT_VOCAB, "name"), prop(json!(s.location.label), now)),
            ];
            if let Some(p) = s.location.point {
                attrs.push((
                    format!("{}location", crate::context::NGSI),
                    geo(json!({"type":"Point","coordinates": lonlat(net, p)}), now),
                ));
            }
            entity(format!("urn:ngsi-ld:Device:{}", s.id), t(SDM_DEVICE, "Device"), now, attrs)
        })
        .collect()
}

/// A `RoadSegment` per road with its live state.
fn roads(net: &Network, tick: &Tick, now: &str) -> Vec<Entity> {
    tick.state
        .roads
        .iter()
        .map(|r| {
            let road = net.road(r.road);
            let line: Vec<Value> = road.points.iter().map(|&p| lonlat(net, p)).collect();
            let mut attrs = vec![
                (t(SDM_TRANSPORT, "name"), prop(json!(road.name), now)),
                (t(SDM_TRANSPORT, "totalLaneNumber"), prop(json!(road.lane_count), now)),
                (t(SDM_TRANSPORT, "length"), prop(json!((r.length_m * 10.0).round() / 10.0), now)),
                (t(SDM_TRANSPORT, "maximumAllowedSpeed"), prop(json!((r.free_speed * 36.0).round() / 10.0), now)),
                (format!("{}location", crate::context::NGSI), geo(json!({"type":"LineString","coordinates": line}), now)),
            ];
            if let Some(s) = r.speed {
                attrs.push((t(SDM_TRANSPORT, "averageVehicleSpeed"), prop(json!((s * 36.0).round() / 10.0), now)));
            }
            if let Some(x) = r.tti {
                attrs.push((t(SDM_TRANSPORT, "travelTimeIndex"), prop(json!((x * 100.0).round() / 100.0), now)));
            }
            if let Some(f) = r.flow_vph {
                attrs.push((t(SDM_TRANSPORT, "intensity"), prop(json!(f.round()), now)));
            }
            attrs.push((t(SDM_TRANSPORT, "congested"), prop(json!(r.tti.is_some_and(|x| x >= 2.0)), now)));
            entity(format!("urn:ngsi-ld:RoadSegment:{}", road.name), t(SDM_TRANSPORT, "RoadSegment"), now, attrs)
        })
        .collect()
}

/// A `TrafficSignal` per signalised junction.
fn signals(net: &Network, tick: &Tick, now: &str) -> Vec<Entity> {
    tick.signals
        .iter()
        .map(|s| {
            let i = &net.intersections[s.intersection.0 as usize];
            let mut attrs = vec![
                (t(SDM_TRANSPORT, "name"), prop(json!(i.name), now)),
                (t(SDM_TRANSPORT, "stageCount"), prop(json!(s.phases), now)),
                (t(SDM_TRANSPORT, "serving"), prop(json!(s.serving), now)),
                (
                    format!("{}location", crate::context::NGSI),
                    geo(json!({"type":"Point","coordinates": lonlat(net, i.point)}), now),
                ),
            ];
            if let Some(p) = s.phase {
                attrs.push((t(SDM_TRANSPORT, "currentStage"), prop(json!(p), now)));
            }
            entity(format!("urn:ngsi-ld:TrafficSignal:{}", i.name), t(SDM_TRANSPORT, "TrafficSignal"), now, attrs)
        })
        .collect()
}

/// `TrafficFlowObserved` entities of the loop aggregates in a batch.
/// One `TrafficFlowObserved` per loop detector, from its latest record.
fn flows<'a>(
    net: &Network,
    reg: &SensorRegistry,
    latest: impl Iterator<Item = &'a sense::Observation>,
    now: &str,
) -> Vec<Entity> {
    let mut out: std::collections::BTreeMap<String, Entity> = Default::default();
    for o in latest {
        let ObsData::Loop(l) = &o.data else { continue };
        let Some(s) = reg.get(o.sensor) else { continue };
        let mut attrs = vec![
            (t(SDM_TRANSPORT, "dateObservedFrom"), prop(json!(crate::time::from_secs(l.start)), now)),
            (t(SDM_TRANSPORT, "dateObservedTo"), prop(json!(crate::time::from_secs(l.end)), now)),
            (t(SDM_TRANSPORT, "intensity"), prop(json!(l.count), now)),
            (t(SDM_TRANSPORT, "occupancy"), prop(json!(l.occupancy), now)),
            (t(SDM_TRANSPORT, "refDevice"), rel(format!("urn:ngsi-ld:Device:{}", s.id), now)),
        ];
        if let Some(v) = l.speed {
            attrs.push((t(SDM_TRANSPORT, "averageVehicleSpeed"), prop(json!((v * 36.0).round() / 10.0), now)));
        }
        if let Some(r) = s.location.road {
            attrs.push((t(SDM_TRANSPORT, "refRoadSegment"), rel(format!("urn:ngsi-ld:RoadSegment:{}", net.road(r).name), now)));
        }
        if let Some(p) = s.location.point {
            attrs.push((
                format!("{}location", crate::context::NGSI),
                geo(json!({"type":"Point","coordinates": lonlat(net, p)}), now),
            ));
        }
        let id = format!("urn:ngsi-ld:TrafficFlowObserved:{}", s.id);
        out.insert(id.clone(), entity(id, t(SDM_TRANSPORT, "TrafficFlowObserved"), now, attrs));
    }
    out.into_values().collect()
}

impl Ngsi {
    /// Put brain-derived entities into the default tenant (memory only), keeping the
    /// creation time of those already there; notify subscriptions of real changes.
    pub fn put_brain_entities(&self, ents: Vec<Entity>) {
        let _ = self.change_with("", false, |t| {
            let mut ch = Vec::new();
            for mut e in ents {
                let old = t.entities.get(&e.id);
                if let Some(o) = old {
                    if o.types == e.types && same_values(o, &e) {
                        continue;
                    }
                    e.created_at = o.created_at.clone();
                }
                ch.push(Change { history: None, id: e.id.clone(), old: old.cloned(), new: Some(e) });
            }
            Ok(((), ch))
        });
    }
}

fn same_values(a: &Entity, b: &Entity) -> bool {
    fn value(x: &Attr) -> Option<&Value> {
        x.get("value").or_else(|| x.get("object"))
    }
    a.attrs.len() == b.attrs.len()
        && a.attrs
            .iter()
            .zip(&b.attrs)
            .all(|((ka, va), (kb, vb))| ka == kb && va.len() == vb.len() && va.iter().zip(vb).all(|(x, y)| value(x) == value(y)))
}

/// The plug-in that refreshes the brain's entities.
pub struct NgsiPlugin {
    ngsi: Weak<Ngsi>,
    brain: Weak<Brain>,
    /// Each loop detector's latest record since the last tick. The entities are
    /// refreshed once per tick, not per ingested batch: the ingest path only keeps a
    /// record here (a batch of thousands of records for a few hundred loops builds a few
    /// hundred entities per tick, and ingest does not wait for them).
    pending: std::collections::HashMap<sense::SensorIdx, sense::Observation>,
    /// The time of the record each detector's entity shows (or will at the next tick):
    /// a record older than that, arriving late, does not replace it.
    shown: std::collections::HashMap<sense::SensorIdx, f64>,
}

impl Plugin for NgsiPlugin {
    fn name(&self) -> &'static str {
        "ngsi-ld"
    }
    fn on_observations(&mut self, batch: &[sense::Observation], _cx: &mut Context<'_>) {
        for o in batch {
            if let ObsData::Loop(_) = o.data {
                let shown = self.shown.entry(o.sensor).or_insert(f64::NEG_INFINITY);
                if o.time < *shown {
                    continue;
                }
                *shown = o.time;
                match self.pending.get_mut(&o.sensor) {
                    Some(p) => p.clone_from(o),
                    None => {
                        self.pending.insert(o.sensor, o.clone());
                    }
                }
            }
        }
    }
    fn on_tick(&mut self, tick: &Tick, cx: &mut Context<'_>) {
        let Some(n) = self.ngsi.upgrade() else { return };
        let now = crate::time::now_iso();
        let mut ents = flows(cx.net, cx.registry, self.pending.values(), &now);
        self.pending.clear();
        ents.extend(roads(cx.net, tick, &now));
        ents.extend(signals(cx.net, tick, &now));
        if let Some(b) = self.brain.upgrade() {
            if let Ok(events) = b.events(&brain::Caller::system(), 200) {
                for e in events.iter().filter(|e| matches!(e.severity, brain::Severity::Warning | brain::Severity::Critical)) {
                    let attrs = vec![
                        (t(SDM_ALERT, "category"), prop(json!("traffic"), &now)),
                        (t(SDM_ALERT, "subCategory"), prop(json!(format!("{:?}", e.kind)), &now)),
                        (
                            t(SDM_ALERT, "severity"),
                            prop(json!(if e.severity == brain::Severity::Critical { "high" } else { "medium" }), &now),
                        ),
                        (t(SDM_ALERT, "description"), prop(json!(e.message), &now)),
                        (t(SDM_ALERT, "dateIssued"), prop(json!(crate::time::from_secs(e.time)), &now)),
                        (t(SDM_ALERT, "alertSource"), prop(json!(e.source), &now)),
                    ];
                    ents.push(entity(format!("urn:ngsi-ld:Alert:{}", e.id), t(SDM_ALERT, "Alert"), &now, attrs));
                }
            }
        }
        n.put_brain_entities(ents);
    }
}

/// Register the plug-in and publish the sensor registry as `Device`s.
pub fn install(brain: &Arc<Brain>, n: &Arc<Ngsi>) {
    let now = crate::time::now_iso();
    n.put_brain_entities(devices(&brain.net, &brain.registry, &now));
    brain.register(Box::new(NgsiPlugin {
        ngsi: Arc::downgrade(n),
        brain: Arc::downgrade(brain),
        pending: Default::default(),
        shown: Default::default(),
    }));
}

/// Whether `e` is a `TrafficFlowObserved` (any context) a client sends as an observation.
pub fn is_flow_observation(e: &Entity) -> bool {
    e.types.iter().any(|t| t.ends_with("/TrafficFlowObserved") || t.ends_with("#TrafficFlowObserved"))
}

fn value_of<'a>(e: &'a Entity, name: &str) -> Option<&'a Value> {
    e.attrs
        .iter()
        .find(|(k, _)| k.rsplit(['/', '#']).next() == Some(name))
        .and_then(|(_, v)| v.first())
        .and_then(|a| a.get("value").or_else(|| a.get("object")))
}

impl Ngsi {
    /// Ingest a client's `TrafficFlowObserved` entities as loop records through the brain's
    /// pipeline. Returns per entity `Ok` or the record's rejection.
    pub(crate) fn ingest_flows(&self, req: &Req, ents: &[&Entity]) -> Result<Vec<Result<(), NgsiError>>, NgsiError> {
        let b = self.brain().ok_or_else(|| NgsiError::Unavailable("not attached to a brain".into()))?;
        let mut records = Vec::new();
        let mut idx = Vec::new();
        let mut out: Vec<Result<(), NgsiError>> = Vec::new();
        for e in ents {
            let dev = value_of(e, "refDevice")
                .and_then(Value::as_str)
                .map(|s| s.strip_prefix("urn:ngsi-ld:Device:").unwrap_or(s).to_string());
            let from = value_of(e, "dateObservedFrom").and_then(Value::as_str).and_then(crate::time::secs);
            let to = value_of(e, "dateObservedTo").and_then(Value::as_str).and_then(crate::time::secs);
            let (Some(dev), Some(from), Some(to)) = (dev, from, to) else {
                out.push(Err(NgsiError::bad("TrafficFlowObserved needs refDevice, dateObservedFrom and dateObservedTo")));
                continue;
            };
            let mut r = json!({"sensor": dev, "kind": "loop", "time": to, "start": from, "end": to,
                               "count": value_of(e, "intensity").cloned().unwrap_or(Value::Null),
                               "occupancy": value_of(e, "occupancy").cloned().unwrap_or(Value::Null)});
            if let Some(v) = value_of(e, "averageVehicleSpeed").and_then(Value::as_f64) {
                r["speed"] = json!(v / 3.6);
            }
            idx.push(out.len());
            out.push(Ok(()));
            records.push(r);
        }
        if records.is_empty() {
            return Ok(out);
        }
        let body = json!({ "observations": records }).to_string();
        let o = b.ingest_body(&req.caller, body.as_bytes())?;
        if !o.stored {
            return Err(NgsiError::Unavailable("storage could not keep the observations".into()));
        }
        for (i, r) in &o.report.results {
            if let (Some(&k), Err(err)) = (idx.get(*i), r) {
                out[k] = Err(NgsiError::bad(format!("observation rejected: {err}")));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Req;

    /// 2026-12-06T00:00:00Z.
    const NOW: f64 = 1_796_515_200.0;

    fn loop_body(records: &[(f64, u32)]) -> Vec<u8> {
        let r: Vec<Value> = records
            .iter()
            .map(|&(t, count)| {
                json!({"sensor": "loop:AB:0", "kind": "loop", "time": t, "start": t - 30.0, "end": t,
                       "count": count, "occupancy": 0.1, "speed": 8.0})
            })
            .collect();
        serde_json::to_vec(&json!({ "observations": r })).unwrap()
    }

    fn intensity(n: &Ngsi) -> Option<Value> {
        let req =
            Req { caller: brain::Caller::system(), tenant: None, link: None, content_type: None, accept: None, query: None };
        let out = n.retrieve_entity(&req, "urn:ngsi-ld:TrafficFlowObserved:loop:AB:0").ok()?;
        let body = out.body?;
        body.as_object()?.iter().find(|(k, _)| k.ends_with("intensity")).map(|(_, v)| v["value"].clone())
    }

    #[test]
    fn a_loop_entity_shows_its_latest_record_from_the_next_tick() {
        let dir = std::env::temp_dir().join(format!("citybrain-ngsi-brainmap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = brain::BrainConfig {
            day_start_s: NOW - 120.0,
            clock: brain::ClockSource::Driven,
            ..brain::BrainConfig::new(dir.join("brain.sqlite"))
        };
        let b = Brain::open(sense::testnet::corridor(), &cfg).unwrap();
        let n = Ngsi::install(&b, crate::NgsiConfig::default()).unwrap();
        b.drive_clock(NOW);
        let out = b.ingest_records(&sense::parse_batch(&loop_body(&[(NOW - 60.0, 3), (NOW - 30.0, 7)])).unwrap());
        assert_eq!(out.report.accepted, 2, "{:?}", out.report.results);
        assert_eq!(intensity(&n), None, "refreshed on the tick, not on ingest");
        b.tick(NOW, 0, 0);
        assert_eq!(intensity(&n), Some(json!(7)), "the latest of the batch");
        // A record older than the one shown arrives late: the entity keeps the newer one.
        let _ = b.ingest_records(&sense::parse_batch(&loop_body(&[(NOW - 90.0, 1)])).unwrap());
        b.drive_clock(NOW + 5.0);
        b.tick(NOW + 5.0, 0, 0);
        assert_eq!(intensity(&n), Some(json!(7)));
        // A newer one replaces it.
        let _ = b.ingest_records(&sense::parse_batch(&loop_body(&[(NOW, 9)])).unwrap());
        b.drive_clock(NOW + 10.0);
        b.tick(NOW + 10.0, 0, 0);
        assert_eq!(intensity(&n), Some(json!(9)));
        drop(n);
        drop(b);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
