//! Stable keys: storage refers to roads and intersections by store-assigned integer keys
//! of their **names** (a dictionary the backend keeps), never by the dense
//! [`RoadId`]/[`IntersectionId`] of one import, which change with import order. Lanes are
//! stored as (road key, lane index within the road), movements as (from road, to road).
//!
//! A [`Keys`] is built when a store is opened for a network: it maps the network's typed
//! ids to the keys and back, so the [`crate::Store`] API keeps taking and returning typed
//! ids of the caller's network.

use std::collections::HashMap;

use city::{IntersectionId, LaneId, MovementId, Network, RoadId};

use crate::StoreError;

/// Typed ids of one network <-> store keys of their names.
#[derive(Clone, Debug)]
pub struct Keys {
    road_key: Vec<i64>,
    road_of: HashMap<i64, RoadId>,
    intersection_key: Vec<i64>,
    intersection_of: HashMap<i64, IntersectionId>,
    /// Lane -> (road, index within the road).
    lane_pos: Vec<(RoadId, u32)>,
    /// Road -> (first lane, lane count).
    road_lanes: Vec<(u32, u32)>,
    movements: HashMap<(RoadId, RoadId), MovementId>,
}

/// Names of the network's roads in [`RoadId`] order.
pub fn road_names(net: &Network) -> impl Iterator<Item = &str> {
    net.roads.iter().map(|r| r.name.as_str())
}

/// Names of the network's intersections in [`IntersectionId`] order.
pub fn intersection_names(net: &Network) -> impl Iterator<Item = &str> {
    net.intersections.iter().map(|i| i.name.as_str())
}

impl Keys {
    /// `road_keys[k]` is the store key of road `k`'s name, `intersection_keys[k]` that of
    /// intersection `k` (as assigned by the backend's dictionary).
    pub fn new(net: &Network, road_keys: Vec<i64>, intersection_keys: Vec<i64>) -> Result<Keys, StoreError> {
        if road_keys.len() != net.roads.len() || intersection_keys.len() != net.intersections.len() {
            return Err(StoreError::backend(format!(
                "{} road keys for {} roads, {} intersection keys for {} intersections",
                road_keys.len(),
                net.roads.len(),
                intersection_keys.len(),
                net.intersections.len()
            )));
        }
        let road_of = road_keys.iter().enumerate().map(|(k, &key)| (key, RoadId(k as u32))).collect();
        let intersection_of = intersection_keys.iter().enumerate().map(|(k, &key)| (key, IntersectionId(k as u32))).collect();
        let lane_pos =
            net.lanes.iter().enumerate().map(|(l, lane)| (lane.road, l as u32 - net.road(lane.road).first_lane.0)).collect();
        let road_lanes = net.roads.iter().map(|r| (r.first_lane.0, r.lane_count)).collect();
        let movements =
            net.movements.iter().enumerate().map(|(m, mv)| ((mv.from_road, mv.to_road), MovementId(m as u32))).collect();
        Ok(Keys {
            road_key: road_keys,
            road_of,
            intersection_key: intersection_keys,
            intersection_of,
            lane_pos,
            road_lanes,
            movements,
        })
    }

    pub fn road_count(&self) -> usize {
        self.road_key.len()
    }

    /// Store key of a road of this network.
    pub fn road_key(&self, r: RoadId) -> Option<i64> {
        self.road_key.get(r.idx()).copied()
    }

    /// The road of this network with that key (`None`: a road this network has not).
    pub fn road(&self, key: i64) -> Option<RoadId> {
        self.road_of.get(&key).copied()
    }

    pub fn intersection_key(&self, i: IntersectionId) -> Option<i64> {
        self.intersection_key.get(i.idx()).copied()
    }

    pub fn intersection(&self, key: i64) -> Option<IntersectionId> {
        self.intersection_of.get(&key).copied()
    }

    /// (road key, lane index within the road).
    pub fn lane_key(&self, l: LaneId) -> Option<(i64, u32)> {
        let &(road, idx) = self.lane_pos.get(l.0 as usize)?;
        Some((self.road_key(road)?, idx))
    }

    pub fn lane(&self, road_key: i64, idx: u32) -> Option<LaneId> {
        let road = self.road(road_key)?;
        let (first, n) = self.road_lanes[road.idx()];
        (idx < n).then(|| LaneId(first + idx))
    }

    pub fn movement(&self, from: RoadId, to: RoadId) -> Option<MovementId> {
        self.movements.get(&(from, to)).copied()
    }

    /// The largest road key of this network (`-1` when it has no roads).
    pub fn max_road_key(&self) -> i64 {
        self.road_key.iter().copied().max().unwrap_or(-1)
    }
}
