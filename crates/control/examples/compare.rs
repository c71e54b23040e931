//! Compare controllers on the shared data:
//! `cargo run -p control --release --example compare -- hangzhou|jinan|nanchang benchmark|operational [policy...]`
//! Prints the markdown table (and the KDD score for nanchang) and writes an SVG plot to
//! `target/control-<city>-<protocol>.svg`.

use std::path::Path;

use control::{kdd_score, markdown_table, run, svg_plot, Protocol};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let city = args.first().map(String::as_str).unwrap_or("hangzhou");
    let protocol = match args.get(1).map(String::as_str) {
        Some("operational") => Protocol::Operational,
        _ => Protocol::Benchmark,
    };
    let policies: Vec<String> =
        if args.len() > 2 { args[2..].to_vec() } else { control::policy::NAMES.iter().map(|s| s.to_string()).collect() };
    let scenario = match city {
        "jinan" => testdata::cityflow("jinan_3x4"),
        "nanchang" => {
            let s = testdata::nanchang().expect("the shared data");
            for p in &policies {
                let t0 = std::time::Instant::now();
                let k = kdd_score(&s, p, protocol, 0, 3600).expect("run");
                println!(
                    "{p}: served {} stopped {:?} delay index {:.3} ({:.0} s wall)",
                    k.served,
                    k.stopped_at_s,
                    k.delay_index,
                    t0.elapsed().as_secs_f64()
                );
            }
            return;
        }
        _ => testdata::cityflow("hangzhou_4x4"),
    }
    .expect("the shared data");
    let mut rows = Vec::new();
    for p in &policies {
        let r = run(&scenario, p, protocol, 0, 3600).expect("run");
        eprintln!("{p}: ATT {:.2} thr {} changes {}", r.average_travel_time_s, r.throughput, r.phase_changes);
        rows.push((p.clone(), r));
    }
    println!("{}", markdown_table(&rows));
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../target/control-{city}-{}.svg", protocol.name()));
    let _ = std::fs::write(&out, svg_plot(&format!("{city} ({})", protocol.name()), &rows));
}
