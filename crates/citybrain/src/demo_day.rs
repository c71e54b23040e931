//! The demo's day: a generated city whose demand has an AM and a PM peak that congest
//! under fixed-time signals, a quieter midday and a light night, starting at the demo's
//! start hour (07:00 by default); and incidents drawn through the day.
//!
//! The generator draws one bell-shaped peak per horizon, so the day is composed of
//! windows, each generated on the same city (same seed: same layout) with its own horizon
//! and peak rate, and shifted to its place in the day.

use anyhow::Result;
use twin::gen::{GenCity, GenConfig};

/// One window of the day: hours after the start, its length and its peak rate (a share
/// of the day's peak).
struct Window {
    from_h: f64,
    hours: f64,
    share: f64,
}

/// Vehicles per hour city-wide at the height of the AM and PM peaks.
pub const PEAK_VEHICLES_PER_HOUR: f64 = 9000.0;

/// The day from `start_hour`: AM peak around 08:30, PM peak around 18:00 (for a 07:00
/// start), each a three- to four-hour bell; midday at half the peak rate; night light.
fn windows(start_hour: f64) -> Vec<Window> {
    // Clock hours of the windows, laid over 24 h from the start.
    let plan = [(7.0, 3.0, 1.0), (10.0, 6.0, 0.45), (16.0, 4.0, 1.0), (20.0, 11.0, 0.2)];
    plan.iter().map(|&(clock, hours, share)| Window { from_h: (clock - start_hour).rem_euclid(24.0), hours, share }).collect()
}

/// The demo city with the day's demand (24 hours from `start_hour`).
pub fn generate(start_hour: f64, peak_vph: f64) -> Result<GenCity> {
    let base = GenConfig::demo();
    let mut day: Option<GenCity> = None;
    let mut flows = Vec::new();
    for (k, w) in windows(start_hour).iter().enumerate() {
        let cfg = GenConfig { duration_s: w.hours * 3600.0, peak_vehicles_per_hour: peak_vph * w.share, ..base.clone() };
        let city = twin::gen::generate(&cfg).map_err(anyhow::Error::msg)?;
        let shift = w.from_h * 3600.0;
        for mut f in city.demand.flows.iter().cloned() {
            f.start += shift;
            f.end = f.end.map(|e| e + shift);
            flows.push(f);
        }
        if k == 0 {
            day = Some(city);
        }
    }
    let mut day = day.ok_or_else(|| anyhow::anyhow!("the day has no window"))?;
    flows.sort_by(|a, b| a.start.total_cmp(&b.start));
    day.demand.flows = flows;
    Ok(day)
}

/// Incidents through the day: about three an hour, ten to thirty minutes each, of every
/// kind the twin plays (seeded).
pub fn incidents(net: &twin::Network, seed: u64) -> twin::incident::IncidentPlan {
    twin::incident::IncidentPlan::random(
        net,
        &twin::incident::RandomIncidents {
            seed,
            count: 72,
            decoys: 0,
            start_s: 900.0,
            end_s: 86_400.0 - 1800.0,
            min_duration_s: 600.0,
            max_duration_s: 1800.0,
            kinds: twin::IncidentKind::ALL.to_vec(),
            ..Default::default()
        },
    )
}

/// `citybrain demo --headless`: the day through the real brain as fast as possible,
/// reported every 15 city minutes.
pub fn headless(
    city: GenCity,
    plan: twin::incident::IncidentPlan,
    a: &crate::demo::DemoArgs,
    zone: &sense::CityZone,
) -> Result<()> {
    use std::sync::{Arc, Mutex};
    std::fs::create_dir_all(&a.data_dir)?;
    let db = a.data_dir.join("headless.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let day_start_s = zone.day_at(brain::wall_clock(), a.start_hour).map_err(anyhow::Error::msg)?;
    let cfg = brain::BrainConfig {
        speed: 1e9,
        duration_s: Some(a.duration.unwrap_or(86_400.0)),
        day_start_s,
        clock: brain::ClockSource::Driven,
        timezone: zone.clone(),
        ..brain::BrainConfig::new(&db)
    };
    let brain = brain::Brain::open(city.network.clone(), &cfg)?;
    crate::plugins::register(&brain, true);
    let svc = brain.service::<incidents::Incidents>().ok_or_else(|| anyhow::anyhow!("incident plug-in missing"))?;
    let truth = incidents::cameras::Truth::from_plan(&brain.net, &plan);
    let cams =
        incidents::cameras::Cameras::new(&brain.net, incidents::cameras::CameraConfig { seed: a.seed, ..Default::default() });
    svc.with(|c| c.cameras = Some((cams, truth, day_start_s)));
    /// Time, TPI, congested share, vehicles of every tick.
    type Ticks = Arc<Mutex<Vec<(f64, f64, f64, u64)>>>;
    struct Rec(Ticks);
    impl brain::Subscriber for Rec {
        fn name(&self) -> &str {
            "headless-report"
        }
        fn deliver(&self, m: &brain::BusMessage) {
            if let brain::BusMessage::Tick(t) = m {
                let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
                v.push((t.time, t.state.city.tpi, t.state.city.congested_share, t.vehicles));
            }
        }
    }
    let ticks = Arc::new(Mutex::new(Vec::new()));
    brain.bus().subscribe(Arc::new(Rec(ticks.clone())));
    let scenario = twin::Scenario { network: city.network.clone(), demand: city.demand.clone() };
    let control = crate::control::live_controller(&a.controller, &scenario, brain.service::<corridor::Corridors>())?;
    let mut sim = twin::Sim::from_parts(
        scenario.network,
        scenario.demand.flows,
        twin::SimConfig { seed: a.seed, record_events: true, ..Default::default() },
    );
    sim.schedule_incidents(&plan).map_err(anyhow::Error::msg)?;
    brain::run_twin(brain.clone(), sim, control, Arc::new(std::sync::atomic::AtomicBool::new(false)));
    let ticks = ticks.lock().unwrap_or_else(|e| e.into_inner()).clone();
    println!("| local time | TPI | congested share | vehicles |\n|---|---|---|---|");
    let mut next = day_start_s;
    let mut peak = (0.0, 0.0, 0.0);
    for &(t, tpi, share, veh) in &ticks {
        // The first quarter hour grades the few roads with evidence yet: not a peak.
        if tpi > peak.1 && t >= day_start_s + 900.0 {
            peak = (t, tpi, share);
        }
        if t >= next {
            next += 900.0;
            println!("| {} | {tpi:.1} | {:.1} % | {veh} |", zone.format(t), 100.0 * share);
        }
    }
    println!("\npeak: TPI {:.1}, {:.1} % of road length congested at {}", peak.1, 100.0 * peak.2, zone.format(peak.0));
    let events = svc.with(|c| c.fusion.events.values().cloned().collect::<Vec<_>>());
    let mut by: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in &events {
        *by.entry(e.status.as_str()).or_default() += 1;
    }
    let dispatched = events.iter().filter(|e| e.dispatched_at.is_some()).count();
    let cleared = events.iter().filter(|e| e.cleared_at.is_some()).count();
    println!(
        "incidents in the plan: {}; events raised: {} ({by:?}); dispatched {dispatched}; cleared {cleared}",
        plan.incidents.len(),
        events.len()
    );
    Ok(())
}
