//! `citybrain sim --atspm DIR`: the virtual signal controllers' high-resolution event log
//! of a run, as an ATSPM tool reads it, plus the twin's own signal trace to check it by.
//!
//! - `events.csv`: `TimeStamp,DeviceId,EventId,Parameter`, sorted by time, civil time of
//!   the city with its offset (the same rows `/api/v1/signals/events` serves).
//! - `detectors.csv`: the detector configuration (`/api/v1/signals/detectors`).
//! - `signal_trace.csv`: `DeviceId,Phase,GreenStart,GreenEnd,Start_s,End_s`, every green
//!   interval of every NEMA phase as the twin applied it (read from the green masks
//!   before each step, independently of the event log).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use twin::sensors::{Reading, SensorConfig, VirtualSensors};
use twin::signal::{detectors, DetectorLayout, Nema};
use twin::{IntersectionId, Sim};

/// The city clock of the run's time 0: 07:00 on 2026-01-05 in the default time zone.
fn origin(zone: &sense::CityZone) -> Result<f64> {
    zone.day_at(1_767_600_000.0, 7.0).map_err(anyhow::Error::msg)
}

pub struct AtspmOut {
    dir: PathBuf,
    zone: sense::CityZone,
    t0: f64,
    sensors: VirtualSensors,
    readings: Vec<Reading>,
    /// `(time, intersection, code, param)`.
    events: Vec<(f64, IntersectionId, u16, u32)>,
    signals: Vec<(IntersectionId, Nema, Vec<Option<f64>>)>,
    /// `(intersection, phase, start, end)`.
    greens: Vec<(IntersectionId, u8, f64, f64)>,
}

impl AtspmOut {
    /// Start logging `sim` (built with `record_events`) into `dir`.
    pub fn new(dir: &Path, sim: &Sim, seed: u64) -> Result<AtspmOut> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let zone = sense::CityZone::default();
        let t0 = origin(&zone)?;
        let net = sim.network();
        let signals = (0..net.intersections.len())
            .map(|k| IntersectionId(k as u32))
            .filter(|&i| net.intersection(i).is_signalised())
            .map(|i| {
                let nema = Nema::of(net, i);
                let n = nema.phases.len();
                (i, nema, vec![None; n])
            })
            .collect();
        let cfg = SensorConfig { seed, probe_share: 0.0, ..Default::default() };
        Ok(AtspmOut {
            dir: dir.to_path_buf(),
            zone,
            t0,
            sensors: VirtualSensors::new(sim, cfg),
            readings: Vec::new(),
            events: Vec::new(),
            signals,
            greens: Vec::new(),
        })
    }

    /// Call before each step, after the controller set the signals: the trace.
    pub fn before_step(&mut self, sim: &Sim) {
        let now = sim.time();
        let net = sim.network();
        for (i, nema, open) in &mut self.signals {
            let movements = &net.intersection(*i).movements;
            for (p, slot) in nema.phases.iter().zip(open.iter_mut()) {
                let green = p.movements.iter().any(|&k| sim.movement_green(movements[k]));
                match (green, *slot) {
                    (true, None) => *slot = Some(now),
                    (false, Some(s)) => {
                        self.greens.push((*i, p.phase, s, now));
                        *slot = None;
                    }
                    _ => {}
                }
            }
        }
    }

    /// Call after each step: the virtual controllers' events.
    pub fn after_step(&mut self, sim: &Sim) {
        self.readings.clear();
        self.sensors.observe(sim, &mut self.readings);
        for r in &self.readings {
            match *r {
                Reading::SignalEvent { intersection, time, code, param } => self.events.push((time, intersection, code, param)),
                Reading::DetectorEvent { intersection, channel, time, code } => {
                    self.events.push((time, intersection, code, channel))
                }
                _ => {}
            }
        }
    }

    /// Write the three files; returns the number of events.
    pub fn finish(mut self, sim: &Sim) -> Result<usize> {
        let net = sim.network();
        let name = |i: IntersectionId| net.intersection(i).name.as_str();
        self.events.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut w = create(&self.dir.join("events.csv"))?;
        writeln!(w, "TimeStamp,DeviceId,EventId,Parameter")?;
        for &(t, i, code, param) in &self.events {
            writeln!(w, "{},{},{code},{param}", self.zone.format_log(self.t0 + t), name(i))?;
        }
        w.flush()?;
        let mut w = create(&self.dir.join("detectors.csv"))?;
        write!(w, "{}", server::http::DETECTOR_CSV_HEADER)?;
        for (i, nema, _) in &self.signals {
            for d in detectors(net, *i, nema, &DetectorLayout::default()) {
                let lane = net.lane(d.lane);
                writeln!(
                    w,
                    "{},{},{},{},{},{},{}:{}",
                    name(*i),
                    d.channel,
                    d.phase,
                    d.function.as_str(),
                    d.distance_m,
                    d.length_m,
                    net.road(lane.road).name,
                    lane.index
                )?;
            }
        }
        w.flush()?;
        let mut w = create(&self.dir.join("signal_trace.csv"))?;
        writeln!(w, "DeviceId,Phase,GreenStart,GreenEnd,Start_s,End_s")?;
        self.greens.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        for &(i, p, s, e) in &self.greens {
            let (fs, fe) = (self.zone.format_log(self.t0 + s), self.zone.format_log(self.t0 + e));
            writeln!(w, "{},{p},{fs},{fe},{s},{e}", name(i))?;
        }
        w.flush()?;
        Ok(self.events.len())
    }
}

fn create(p: &Path) -> Result<std::io::BufWriter<std::fs::File>> {
    Ok(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?))
}
