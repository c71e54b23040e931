//! The brain's read calls: history by scope, the controller event log and detector
//! configuration, signal status, the registry, rejections and replay snapshots. Each
//! authorises its caller first and reads the store through its own read connections.

use std::sync::Arc;

use sense::SensorRegistry;
use store::{Scope, StoreError, StoredRejection};
use twin::RoadId;

use super::*;
use crate::access::{Action, Caller};
use crate::bus::SignalStatus;

impl Brain {
    /// The roads a history scope covers: `city`, `area:NAME`, `road:ID`,
    /// `intersection:ID` (its approaches).
    fn scope(&self, scope: &str) -> Result<Vec<Scope>, BrainError> {
        let (kind, id) = scope.split_once(':').unwrap_or((scope, ""));
        let unknown = |what: &str| BrainError::UnknownEntity(format!("scope: unknown {what} {id:?}"));
        match kind {
            "city" => Ok(vec![Scope::City]),
            "area" => Ok(vec![Scope::Area(id.to_string())]),
            "road" => self.net.road_by_name(id).map(|r| vec![Scope::Road(r)]).ok_or_else(|| unknown("road")),
            "intersection" => {
                let i = self.net.intersection_by_name(id).ok_or_else(|| unknown("intersection"))?;
                Ok((0..self.net.roads.len() as u32).map(RoadId).filter(|&r| self.net.road(r).to == i).map(Scope::Road).collect())
            }
            _ => Err(BrainError::Invalid(format!("scope: expected city, road:ID, area:NAME or intersection:ID, got {scope:?}"))),
        }
    }

    /// History of a scope over `[from, to]`; the bucket (or snapshot) containing `to`
    /// is included. Several roads (an intersection's approaches) are averaged per time.
    pub fn history(
        &self,
        caller: &Caller,
        scope: &str,
        from: f64,
        to: f64,
        resolution_s: f64,
    ) -> Result<HistorySeries, BrainError> {
        self.authorize(caller, Action::ReadHistory)?;
        let scopes = self.scope(scope)?;
        let res = if resolution_s < 60.0 {
            Resolution::Snapshot
        } else if resolution_s < 900.0 {
            Resolution::Minute
        } else {
            Resolution::FifteenMinutes
        };
        let mut acc: std::collections::BTreeMap<i64, (f64, u32, f64, u32, u64)> = Default::default();
        let upper = to + res.seconds().unwrap_or(1e-6);
        for sc in &scopes {
            let points = self.store().history(sc, from, upper, res, usize::MAX)?;
            for p in points {
                if p.time > to {
                    continue;
                }
                let e = acc.entry((p.time * 1000.0).round() as i64).or_insert((0.0, 0, 0.0, 0, 0));
                if let Some(v) = p.speed {
                    e.0 += v;
                    e.1 += 1;
                }
                if let Some(d) = p.delay_index {
                    e.2 += d;
                    e.3 += 1;
                }
                e.4 += p.count.unwrap_or(0);
            }
        }
        let points = acc
            .into_iter()
            .map(|(t, (sp, ns, di, nd, count))| HistoryPoint {
                time: t as f64 / 1000.0,
                speed: (ns > 0).then(|| sp / ns as f64),
                count,
                delay_index: (nd > 0).then(|| di / nd as f64),
            })
            .collect();
        Ok(HistorySeries { resolution: res, points })
    }

    /// ATSPM events (phase and detector) of one controller over `[from, to)`.
    pub fn signal_events(
        &self,
        caller: &Caller,
        intersection: &str,
        from: f64,
        to: f64,
    ) -> Result<Vec<(f64, EventCode, u32)>, BrainError> {
        self.authorize(caller, Action::ReadRaw { intersection: Some(intersection) })?;
        let i: IntersectionId = self
            .net
            .intersection_by_name(intersection)
            .ok_or_else(|| BrainError::UnknownEntity(format!("intersection: unknown {intersection:?}")))?;
        Ok(self.store().signal_events(i, from, to, usize::MAX)?)
    }

    /// The detector configuration of the controllers (all, or `intersection`'s): the
    /// virtual stop-bar and advance detectors ([`twin::signal::detectors`]) as placed by
    /// the sensor configuration, with the controller's id.
    pub fn detector_config(
        &self,
        caller: &Caller,
        intersection: Option<&str>,
    ) -> Result<Vec<(String, twin::signal::Detector)>, BrainError> {
        self.authorize(caller, Action::ReadSensors)?;
        let ids: Vec<IntersectionId> = match intersection {
            Some(name) => {
                let i = self
                    .net
                    .intersection_by_name(name)
                    .filter(|&i| self.registry.controller(i).is_some())
                    .ok_or_else(|| BrainError::UnknownEntity(format!("intersection: no controller at {name:?}")))?;
                vec![i]
            }
            None => (0..self.net.intersections.len())
                .map(|k| IntersectionId(k as u32))
                .filter(|&i| self.registry.controller(i).is_some())
                .collect(),
        };
        let layout = &self.config.sensors.detectors;
        Ok(ids
            .into_iter()
            .flat_map(|i| {
                let nema = twin::signal::Nema::of(&self.net, i);
                let name = self.net.intersection(i).name.clone();
                twin::signal::detectors(&self.net, i, &nema, layout).into_iter().map(move |d| (name.clone(), d))
            })
            .collect())
    }

    /// The signal status of the latest tick (or as last set).
    pub fn signals(&self, caller: &Caller) -> Result<Arc<Vec<SignalStatus>>, BrainError> {
        self.authorize(caller, Action::ReadLive)?;
        Ok(self.signals.read().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// The sensor registry.
    pub fn sensors(&self, caller: &Caller) -> Result<&SensorRegistry, BrainError> {
        self.authorize(caller, Action::ReadSensors)?;
        Ok(&self.registry)
    }

    /// The most recent stored rejections, newest first.
    /// Paged by the store's cursor: ids below `before` (all when `None`).
    pub fn rejected(&self, caller: &Caller, before: Option<u64>, limit: usize) -> Result<Vec<StoredRejection>, BrainError> {
        self.authorize(caller, Action::ReadRejected)?;
        Ok(self.store().rejected(before, limit)?)
    }

    /// Whether storage can write now (the store's health probe), for `/healthz`.
    pub fn storage_health(&self) -> Result<(), StoreError> {
        self.store().health()
    }

    /// The stored snapshot nearest before `t`, for replay.
    pub fn snapshot_at(&self, caller: &Caller, t: f64) -> Result<Option<Replay>, BrainError> {
        self.authorize(caller, Action::ReadHistory)?;
        let Some(snapshot) = self.store().snapshot_at(t)? else { return Ok(None) };
        let state_config = lock(&self.estimator).config().clone();
        Ok(Some(Replay { snapshot, state_config }))
    }
}
