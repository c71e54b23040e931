use std::time::Instant;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let t0 = Instant::now();
    let r = std::fs::read_to_string(&a[1]).unwrap();
    let f = std::fs::read_to_string(&a[2]).unwrap();
    let s = if a[1].ends_with(".txt") {
        twin::import::cbengine::load_scenario_named(&r, &f, "r", "f").unwrap()
    } else {
        twin::import::cityflow::load_scenario(&r, &f).unwrap()
    };
    stats(&s);
    let t1 = Instant::now();
    let threads: usize = a.get(3).map(|x| x.parse().unwrap()).unwrap_or(1);
    let mut sim = twin::Sim::new(&s, twin::SimConfig { threads, ..Default::default() });
    let steps: u32 = std::env::var("STEPS").map(|x| x.parse().unwrap()).unwrap_or(3600);
    for _ in 0..steps {
        sim.step();
    }
    jam(&sim);
    let m = sim.metrics();
    let t2 = Instant::now();
    println!(
        "load {:.3}s run {:.3}s total {:.3}s att {:.3} thr {} created {} updates {} ups {:.1}M",
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t2 - t0).as_secs_f64(),
        m.average_travel_time_s,
        m.throughput,
        m.vehicles_created,
        m.vehicle_updates,
        m.vehicle_updates as f64 / (t2 - t1).as_secs_f64() / 1e6
    );
}
#[allow(dead_code)]
fn stats(s: &twin::Scenario) {
    let n = &s.network;
    eprintln!(
        "lanes {} links {} crosses {} per-link {:.1}",
        n.lanes.len(),
        n.lane_links.len(),
        n.crosses.len(),
        2.0 * n.crosses.len() as f64 / n.lane_links.len() as f64
    );
}
#[allow(dead_code)]
fn jam(sim: &twin::Sim) {
    let n = sim.network();
    let (mut sig, mut unsig, mut full_sig, mut full_unsig, mut buf) = (0u64, 0u64, 0, 0, 0u64);
    for (k, l) in n.lanes.iter().enumerate() {
        let st = sim.lane_stats(twin::LaneId(k as u32));
        buf += st.entry_buffer as u64;
        let i = n.intersection(n.road(l.road).to);
        if i.is_signalised() {
            sig += st.waiting as u64;
            if st.occupancy > 0.8 {
                full_sig += 1;
            }
        } else {
            unsig += st.waiting as u64;
            if st.occupancy > 0.8 {
                full_unsig += 1;
            }
        }
    }
    eprintln!("waiting on lanes ending at signals {sig}, at unsignalised {unsig}; full lanes sig {full_sig} unsig {full_unsig}; entry buffers {buf}");
}
