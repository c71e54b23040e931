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
pub const PEAK_VEHICLES_PER_HOUR: f64 = 7000.0;

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
