//! The loops that drive the runtime: [`run_twin`] plays the digital twin in scaled real
//! time through the one ingestion path; [`run_publisher`] ticks a brain fed only by
//! real devices. Both apply retention every hour of city time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sense::RawRecord;
use twin::sensors::{SensorConfig, VirtualSensors};
use twin::Sim;

use crate::bus::{Command, SignalStatus};
use crate::runtime::Brain;

/// The signal controller the twin loop calls before every step (an adaptive policy
/// behind the safety layer), with the commands plug-ins raised since the last step.
/// `None` runs the roadnet's fixed plans.
pub type Controller = Box<dyn FnMut(&mut Sim, &[Command]) + Send>;

/// City seconds between two retention runs.
const PRUNE_EVERY_S: f64 = 3600.0;

/// Whether any through or left movement of `i` has green (else it is in clearance).
fn serving(sim: &Sim, i: twin::IntersectionId) -> bool {
    let net = sim.network();
    net.intersection(i).movements.iter().any(|&m| net.movement(m).turn != twin::Turn::Right && sim.movement_green(m))
}

/// Run the twin against the brain until `stop` is set (or the configured duration
/// ends). Returns the number of simulated steps.
pub fn run_twin(brain: Arc<Brain>, mut sim: Sim, mut control: Option<Controller>, stop: Arc<AtomicBool>) -> u64 {
    let cfg = brain.config.clone();
    // Continue the city clock after whatever the store already holds.
    let day_start = match brain.stored_until() {
        Some(t) if t >= cfg.day_start_s => t + cfg.state_interval_s,
        _ => cfg.day_start_s,
    };
    brain.drive_clock(day_start);
    // Plate keys rotate at the city's midnight.
    let civil_origin_s = day_start + f64::from(cfg.timezone.utc_offset_s(day_start));
    let civil_day = |t: f64| ((t + civil_origin_s) / 86_400.0).floor() as i64;
    let mut key_day = civil_day(sim.time());
    let mut sensor_cfg = SensorConfig { civil_origin_s, ..cfg.sensors.clone() };
    if let Some(k) = brain.plate_key_for(key_day) {
        sensor_cfg.plate_key = k;
    }
    let mut sensors = VirtualSensors::new(&sim, sensor_cfg);
    let signalised: Vec<_> = (0..sim.network().intersections.len())
        .map(|k| twin::IntersectionId(k as u32))
        .filter(|&i| sim.network().intersection(i).is_signalised())
        .map(|i| (i, twin::signal::Nema::of(sim.network(), i)))
        .collect();
    let mut readings = Vec::new();
    let mut records = Vec::new();
    let start = Instant::now();
    let mut next_state = cfg.state_interval_s;
    let mut next_prune = PRUNE_EVERY_S;
    let mut steps = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if cfg.duration_s.is_some_and(|d| sim.time() >= d) {
            break;
        }
        let target = start.elapsed().as_secs_f64() * cfg.speed;
        if sim.time() + sim.dt() > target {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let commands = brain.take_commands();
        apply_clearances(&mut sim, &commands);
        if let Some(c) = control.as_mut() {
            c(&mut sim, &commands);
        }
        sim.step();
        steps += 1;
        let now = sim.time() + day_start;
        brain.drive_clock(now);
        // At the city's midnight: the day's key from the schedule (old keys destroyed).
        if civil_day(sim.time()) != key_day {
            key_day = civil_day(sim.time());
            if let Some(k) = brain.plate_key_for(key_day) {
                sensors.set_plate_key(k);
            }
        }
        readings.clear();
        sensors.observe(&sim, &mut readings);
        records.clear();
        records
            .extend(readings.iter().filter_map(|r| twin::wire::from_reading(r, &brain.registry, day_start)).map(RawRecord::from));
        if !records.is_empty() {
            brain.ingest_records(&records);
        }
        if sim.time() >= next_state {
            next_state += cfg.state_interval_s;
            brain.set_signals(
                signalised
                    .iter()
                    .map(|(i, nema)| {
                        let movements = &sim.network().intersection(*i).movements;
                        SignalStatus {
                            intersection: *i,
                            phase: sim.displayed_stage(*i),
                            green_phases: nema.green_phases(|k| sim.movement_green(movements[k])).collect(),
                            phases: sim.network().intersection(*i).phases.len(),
                            serving: serving(&sim, *i),
                        }
                    })
                    .collect(),
            );
            let m = sim.metrics();
            brain.tick(now, m.vehicles_running, m.throughput);
        }
        if sim.time() >= next_prune {
            next_prune += PRUNE_EVERY_S;
            brain.prune();
        }
    }
    // Tell the edge the twin has finished (duration reached).
    stop.store(true, Ordering::Relaxed);
    steps
}

/// Without a twin: tick every `interval` of wall time at the brain's clock (the wall
/// clock in `serve`), and apply retention every hour of city time, until `stop` is set.
pub fn run_publisher(brain: Arc<Brain>, interval: Duration, stop: Arc<AtomicBool>) {
    let tick = Duration::from_millis(50).min(interval);
    let mut last = f64::NEG_INFINITY;
    let mut last_prune = f64::NEG_INFINITY;
    let mut due = Instant::now() + interval;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(tick);
        if Instant::now() < due {
            continue;
        }
        due += interval;
        let now = brain.now();
        if now > last && now > 0.0 {
            last = now;
            brain.tick(now, 0, 0);
        }
        if now > 0.0 && now - last_prune >= PRUNE_EVERY_S {
            last_prune = now;
            brain.prune();
        }
    }
}

/// Radius around a cleared event's position within which a junction's signal fault is
/// the one cleared, metres.
pub const CLEAR_RADIUS_M: f64 = 150.0;

/// End the twin incidents response units cleared ([`Command::ClearIncident`]); returns
/// the ids of the twin incidents ended.
pub fn apply_clearances(sim: &mut Sim, commands: &[Command]) -> Vec<u32> {
    let mut ended = Vec::new();
    for c in commands {
        if let Command::ClearIncident { road, at, .. } = c {
            ended.extend(sim.end_incident_at(*road, *at, CLEAR_RADIUS_M));
        }
    }
    ended
}
