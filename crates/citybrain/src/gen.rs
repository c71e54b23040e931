//! `citybrain gen`: write a synthetic city in CityFlow format.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct GenArgs {
    /// Output directory; receives roadnet.json and flow.json.
    #[arg(long, default_value = "city")]
    pub out: PathBuf,
    /// Use the demo city preset (other size options are ignored).
    #[arg(long)]
    pub demo: bool,
    #[arg(long, default_value_t = 8)]
    pub rows: u32,
    #[arg(long, default_value_t = 8)]
    pub cols: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Add a ring road around the grid.
    #[arg(long)]
    pub ring: bool,
    /// Peak demand in vehicles per hour (default scales with the grid).
    #[arg(long)]
    pub peak_vph: Option<f64>,
    #[command(flatten)]
    pub geo: crate::scenario::GeoArgs,
}

impl GenArgs {
    pub fn sized(n: u32, out: &Path) -> GenArgs {
        GenArgs {
            out: out.to_path_buf(),
            demo: false,
            rows: n,
            cols: n,
            seed: 1,
            ring: false,
            peak_vph: None,
            geo: Default::default(),
        }
    }
}

pub fn config(a: &GenArgs) -> twin::gen::GenConfig {
    if a.demo {
        return twin::gen::GenConfig::demo();
    }
    let mut c =
        twin::gen::GenConfig { rows: a.rows, cols: a.cols, seed: a.seed, ring_road: a.ring, ..twin::gen::GenConfig::demo() };
    c.peak_vehicles_per_hour = a.peak_vph.unwrap_or((a.rows * a.cols) as f64 * 60.0);
    c
}

/// Generate and write the city; returns the number of intersections and flows.
pub fn write_city(a: &GenArgs) -> Result<(usize, usize)> {
    let mut city = twin::gen::generate(&config(a)).map_err(anyhow::Error::msg)?;
    a.geo.apply(&mut city.network)?;
    let vehicles = city.demand.vehicles_until(config(a).duration_s) as usize;
    let scenario = twin::Scenario { network: city.network, demand: city.demand };
    crate::scenario::write_cityflow(&a.out, &city.spec, &scenario)?;
    Ok((city.spec.intersections.len(), vehicles))
}

pub fn run(a: &GenArgs) -> Result<()> {
    let (n, f) = write_city(a)?;
    println!("wrote roadnet.json + flow.json ({n} intersections, {f} vehicles) to {}", a.out.display());
    Ok(())
}
