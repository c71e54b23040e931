//! Offline upper bound for signal control under the benchmark protocol (diagnostic, with
//! perfect information): optimise the whole hour's phase schedule directly.
//!
//! `cargo run -p control --release --example bound -- hangzhou|jinan PASSES [mp|cb|cb4|FILE] [THREADS [BLOCK [SCREEN LEFT_S VERIFY]]]`
//! or `… hangzhou|jinan anneal FILE SECONDS T0 BLOCK SEED` (simulated annealing from a
//! schedule file, the best written back to it), or `… hangzhou|jinan stats FILE…` (switching statistics of schedules, see [`stats`]).
//!
//! A schedule is, for each of the 120 decision slots (30 s) and each junction, one of the
//! four benchmark phases. It is executed through the same safety layer as `eval` (a
//! `Table` policy behind a real `Controller` for the start and the final check; the
//! search itself drives a cloned `SafetyLayer` exactly as `Controller::before_step` does:
//! request at the decision, `tick` before every step). The start is the realised schedule
//! of MaxPressure (`mp`), of CityBrain (`cb`; `cb4`: its search four decisions ahead) or a schedule file written by an earlier run.
//! Each pass sweeps the slots forward in time; for each (slot, junction) it tries the
//! other phases, each trial re-simulating from a snapshot of the twin at that slot to the
//! end of the hour, and keeps the best trial if it lowers the true hour's average travel
//! time. Snapshots are kept for every slot, so a trial costs only the rest of the hour.
//! The best schedule is written after every pass to `target/bound-<city>-<mp|cb|cb4>.txt`
//! (or back to FILE), one line per slot, one digit per junction; with 0 passes the start
//! is written. With the environment variable `WAVES=1` each pass also tries green-wave
//! pair moves (see [`moves`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use city::Scenario;
use control::policy::{by_name, CityBrainMpc, MpcParams, PolicyContext};
use control::{junctions, Controller, Forecast, Observation, Policy, Protocol, Request, SafetyLayer, Target};
use twin::{Sim, SimConfig};

const SLOTS: usize = 120;
const SLOT_S: usize = 30;

/// `sched[slot][junction]` = the phase requested at that decision.
type Schedule = Vec<Vec<u8>>;

/// A policy that plays a fixed table (the safety layer stays in the path).
struct Table {
    ids: Vec<city::IntersectionId>,
    sched: Schedule,
}

impl Policy for Table {
    fn name(&self) -> &str {
        "Table"
    }
    fn decide(&mut self, _obs: &Observation, now: f64) -> Vec<Request> {
        let slot = ((now / SLOT_S as f64).round() as usize).min(SLOTS - 1);
        self.ids
            .iter()
            .zip(&self.sched[slot])
            .map(|(&i, &p)| Request { intersection: i, target: Target::Phase(p as usize) })
            .collect()
    }
}

/// Wraps a policy and records, per decision, the phase each junction is asked for (a
/// junction without a request keeps its previous phase).
struct Recorder {
    inner: Box<dyn Policy>,
    ids: Vec<city::IntersectionId>,
    out: Arc<Mutex<Schedule>>,
}

impl Recorder {
    fn record(&self, reqs: &[Request]) {
        let mut out = self.out.lock().expect("lock");
        let mut row = out.last().cloned().unwrap_or_else(|| vec![0; self.ids.len()]);
        for r in reqs {
            if let (Some(k), Target::Phase(p)) = (self.ids.iter().position(|&i| i == r.intersection), r.target) {
                row[k] = p as u8;
            }
        }
        out.push(row);
    }
}

impl Policy for Recorder {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn decide(&mut self, obs: &Observation, now: f64) -> Vec<Request> {
        let r = self.inner.decide(obs, now);
        self.record(&r);
        r
    }
    fn wants_forecast(&self) -> bool {
        self.inner.wants_forecast()
    }
    fn forecast_full_routes(&self) -> bool {
        self.inner.forecast_full_routes()
    }
    fn decide_with_forecast(&mut self, obs: &Observation, forecast: &Forecast, now: f64) -> Vec<Request> {
        let r = self.inner.decide_with_forecast(obs, forecast, now);
        self.record(&r);
        r
    }
}

struct Setup {
    scenario: Scenario,
    js: Vec<control::Junction>,
    ids: Vec<city::IntersectionId>,
}

impl Setup {
    /// Run `policy` through a real `Controller` for the hour; the ATT.
    fn run(&self, policy: Box<dyn Policy>) -> f64 {
        self.run_metrics(policy).average_travel_time_s
    }
    fn run_metrics(&self, policy: Box<dyn Policy>) -> twin::Metrics {
        let p = Protocol::Benchmark;
        let mut ctl = Controller::from_policy(&self.scenario, policy, self.js.clone(), p.timing()).expect("controller");
        let mut sim = Sim::new(&self.scenario, SimConfig::default());
        for _ in 0..SLOTS * SLOT_S {
            ctl.before_step(&mut sim);
            sim.step();
        }
        sim.metrics()
    }
    fn record(&self, name: &str) -> (Schedule, f64) {
        let p = Protocol::Benchmark;
        let ctx = PolicyContext {
            net: &self.scenario.network,
            junctions: &self.js,
            timing: p.timing(),
            demand: &self.scenario.demand,
            horizon_s: 3600.0,
        };
        let out = Arc::new(Mutex::new(Vec::new()));
        // "cb4": CityBrain's open-loop search four decisions ahead instead of three.
        let inner: Box<dyn Policy> = match name {
            "cb4" => Box::new(CityBrainMpc::new(&ctx, Some(MpcParams::Sequences { segment_s: SLOT_S as f64, segments: 4 }))),
            _ => by_name(name, &ctx).expect("policy"),
        };
        let rec = Recorder { inner, ids: self.ids.clone(), out: out.clone() };
        let att = self.run(Box::new(rec));
        let sched = out.lock().expect("lock").clone();
        (sched, att)
    }
    fn replay(&self, sched: &Schedule) -> f64 {
        self.run(Box::new(Table { ids: self.ids.clone(), sched: sched.clone() }))
    }
}

/// The twin and its safety layer at the start of a slot (before its decision).
#[derive(Clone)]
struct Snap {
    sim: Sim,
    safety: SafetyLayer,
}

impl Snap {
    /// Play `sched[slot]` for one slot, as `Controller::before_step` + `Sim::step` do.
    fn advance(&mut self, ids: &[city::IntersectionId], row: &[u8]) {
        let reqs: Vec<Request> =
            ids.iter().zip(row).map(|(&i, &p)| Request { intersection: i, target: Target::Phase(p as usize) }).collect();
        self.safety.request(&reqs);
        for _ in 0..SLOT_S {
            let now = self.sim.time();
            self.safety.tick(&mut self.sim, now);
            self.sim.step();
        }
    }
}

/// The hour's ATT when `sched` is played from snapshot `snap` (taken at slot `from`).
fn finish(snap: &Snap, ids: &[city::IntersectionId], sched: &Schedule, from: usize) -> f64 {
    let mut s = snap.clone();
    for row in &sched[from..] {
        s.advance(ids, row);
    }
    s.sim.metrics().average_travel_time_s
}

/// Search moves and screening.
#[derive(Clone, Copy, Debug)]
struct Search {
    /// Moves set one junction's phase for 1..=`block` consecutive slots.
    block: usize,
    /// 0: judge every move by the whole hour. Otherwise screen moves by the vehicle-seconds
    /// up to `screen` slots after the block plus `left_s` per vehicle left then, and
    /// judge only the `verify` best that beat the base by the whole hour.
    screen: usize,
    left_s: f64,
    verify: usize,
}

/// Downstream neighbours for green-wave moves: `waves[k]` lists `(k2, p)` where a road runs
/// from junction `k` to junction `k2` and arrives there on the axis of through phase `p`
/// (0 E-W, 1 N-S).
type Waves = Vec<Vec<(usize, u8)>>;

fn waves(setup: &Setup) -> Waves {
    let net = &setup.scenario.network;
    let pos = |i: city::IntersectionId| setup.ids.iter().position(|&x| x == i);
    let mut w: Waves = vec![Vec::new(); setup.ids.len()];
    for (r, road) in net.roads.iter().enumerate() {
        if let (Some(a), Some(b)) = (pos(road.from), pos(road.to)) {
            let ns = control::approach_of(net, city::RoadId::from(r)).is_north_south();
            w[a].push((b, ns as u8));
        }
    }
    w
}

/// The distinct schedules that set junction `k` to one phase from `slot` for 1..=`block` slots;
/// with `waves`, also green-wave pairs: junction `k` to through phase `p` at `slot` and each
/// downstream neighbour on that axis to `p` at `slot + lag`, lag 2 or 3 slots.
fn moves(sched: &Schedule, slot: usize, k: usize, phases: u8, block: usize, waves: Option<&Waves>) -> Vec<Schedule> {
    let mut out: Vec<Schedule> = Vec::new();
    for &(k2, p) in waves.map(|w| w[k].as_slice()).unwrap_or(&[]) {
        for lag in [2, 3] {
            if slot + lag < SLOTS && (sched[slot][k] != p || sched[slot + lag][k2] != p) {
                let mut s = sched.clone();
                s[slot][k] = p;
                s[slot + lag][k2] = p;
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    for q in 0..phases {
        let mut s = sched.clone();
        for t in slot..(slot + block).min(SLOTS) {
            if s[t][k] != q {
                s[t][k] = q;
                if !out.contains(&s) {
                    out.push(s.clone());
                }
            }
        }
    }
    out
}

/// Vehicle-seconds from the start of the hour to slot `until` (every vehicle created,
/// the numerator of the ATT then) plus `left_s` per vehicle still in the network.
fn screen(snap: &Snap, ids: &[city::IntersectionId], sched: &Schedule, from: usize, until: usize, left_s: f64) -> f64 {
    let mut s = snap.clone();
    for row in &sched[from..until] {
        s.advance(ids, row);
    }
    let m = s.sim.metrics();
    let n = (m.throughput + m.vehicles_running + m.vehicles_waiting) as f64;
    m.average_travel_time_s * n + left_s * (m.vehicles_running + m.vehicles_waiting) as f64
}

/// `f` over `items` on `threads` threads, in order.
fn par_map<T: Sync>(items: &[T], threads: usize, f: impl Fn(&T) -> f64 + Sync) -> Vec<f64> {
    if threads <= 1 || items.len() <= 1 {
        return items.iter().map(&f).collect();
    }
    std::thread::scope(|sc| {
        let f = &f;
        let hs: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|c| sc.spawn(move || c.iter().map(f).collect::<Vec<f64>>()))
            .collect();
        hs.into_iter().flat_map(|h| h.join().expect("trial")).collect()
    })
}

fn write(path: &Path, sched: &Schedule) {
    let text: String = sched.iter().map(|r| r.iter().map(|p| char::from(b'0' + p)).collect::<String>() + "\n").collect();
    std::fs::write(path, text).expect("write schedule");
}

fn read_sched(path: &str) -> Schedule {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().map(|l| l.bytes().map(|b| b - b'0').collect()).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let city = if arg(0) == "jinan" { "jinan_3x4" } else { "hangzhou_4x4" };
    let passes: usize = arg(1).parse().unwrap_or(1);
    let start = if arg(2).is_empty() { "mp" } else { arg(2) };
    let threads: usize = arg(3).parse().unwrap_or(1).max(1);
    let opt = Search {
        block: arg(4).parse().unwrap_or(1).max(1),
        screen: arg(5).parse().unwrap_or(0),
        left_s: arg(6).parse().unwrap_or(60.0),
        verify: arg(7).parse().unwrap_or(2),
    };
    let scenario = testdata::cityflow(city).expect("the shared data");
    let js = junctions(&scenario.network, Protocol::Benchmark.phase_set()).expect("junctions");
    let ids: Vec<_> = js.iter().map(|j| j.id).collect();
    let phases: Vec<u8> = js.iter().map(|j| j.phases.len() as u8).collect();
    let setup = Setup { scenario, js, ids: ids.clone() };
    if arg(1) == "anneal" {
        // anneal FILE SECONDS T0 BLOCK SEED
        let file = arg(2);
        let num = |i: usize, d: f64| arg(i).parse::<f64>().unwrap_or(d);
        let a = Anneal { seconds: num(3, 600.0), t0: num(4, 0.05), block: num(5, 1.0) as usize, seed: num(6, 1.0) as u64 };
        let sched = read_sched(file);
        let mp_att = setup.record("maxpressure").1;
        let best = anneal(&setup, &phases, sched, a, Path::new(file));
        let check = setup.replay(&best);
        println!(
            "anneal {a:?}: replayed through Controller {check:.2} ({:+.1} % vs MaxPressure {mp_att:.2}); in {file}",
            100.0 * (check / mp_att - 1.0)
        );
        return;
    }
    if arg(1) == "rollout" {
        // rollout BASE: full-hour rollout over BASE with perfect information.
        let mp_att = setup.record("maxpressure").1;
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../target/bound-{city}-rollout-{}.txt", arg(2)));
        let sched = rollout(&setup, &phases, arg(2));
        write(&out, &sched);
        let check = setup.replay(&sched);
        println!(
            "rollout over {}: replayed {check:.2} ({:+.1} % vs MaxPressure {mp_att:.2}); in {}",
            arg(2),
            100.0 * (check / mp_att - 1.0),
            out.display()
        );
        return;
    }
    if arg(1) == "relax" {
        return relax(&setup);
    }
    if arg(1) == "stats" {
        let mut named = vec![
            ("MaxPressure".to_string(), setup.record("maxpressure").0),
            ("CityBrain".to_string(), setup.record("citybrain").0),
        ];
        named.extend(args[2..].iter().map(|f| (f.rsplit('/').next().unwrap_or(f).to_string(), read_sched(f))));
        return stats(&setup, &named);
    }
    let t0 = Instant::now();
    let (mp, mp_att) = setup.record("maxpressure");
    println!("{city}: MaxPressure {mp_att:.2} (recorded, {} slots); replayed {:.2}", mp.len(), setup.replay(&mp));
    let (mut sched, mut best) = match start {
        "mp" => (mp, mp_att),
        "cb" | "cb4" => {
            let (cb, att) = setup.record(if start == "cb" { "citybrain" } else { "cb4" });
            println!("CityBrain {att:.2} (recorded); replayed {:.2}", setup.replay(&cb));
            (cb, att)
        }
        file => {
            let s = read_sched(file);
            let att = setup.replay(&s);
            println!("{file}: replayed {att:.2}");
            (s, att)
        }
    };
    let out = match start {
        "mp" | "cb" | "cb4" => Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../target/bound-{city}-{start}.txt")),
        file => PathBuf::from(file),
    };
    if passes == 0 {
        // Only record (and write) the start, e.g. to replay it in another simulator.
        write(&out, &sched);
    }
    // WAVES=1: also green-wave pair moves (see `moves`).
    let wave_moves = std::env::var_os("WAVES").map(|_| waves(&setup));
    let origin = Snap {
        sim: Sim::new(&setup.scenario, SimConfig::default()),
        safety: SafetyLayer::new(&setup.scenario.network, setup.js.clone(), Protocol::Benchmark.timing()).expect("safety"),
    };
    println!("start {best:.2} ({:.1} s wall so far)", t0.elapsed().as_secs_f64());
    for pass in 0..passes {
        let tp = Instant::now();
        let (mut trials, mut kept) = (0usize, 0usize);
        let mut snap = origin.clone();
        for slot in 0..SLOTS {
            // The base's screening value at this slot (changes when a move is kept).
            let mut base_proxy = None;
            for (k, &nph) in phases.iter().enumerate() {
                let cands = moves(&sched, slot, k, nph, opt.block, wave_moves.as_ref());
                let full = |c: &Schedule| finish(&snap, &ids, c, slot);
                let chosen: Vec<(usize, f64)> = if opt.screen == 0 {
                    trials += cands.len();
                    par_map(&cands, threads, full).into_iter().enumerate().collect()
                } else {
                    let until = (slot + opt.block + opt.screen).min(SLOTS);
                    let proxy = |c: &Schedule| screen(&snap, &ids, c, slot, until, opt.left_s);
                    let bp = *base_proxy.get_or_insert_with(|| proxy(&sched));
                    let mut scored: Vec<(usize, f64)> =
                        par_map(&cands, threads, proxy).into_iter().enumerate().filter(|&(_, v)| v < bp - 1e-9).collect();
                    scored.sort_by(|a, b| a.1.total_cmp(&b.1));
                    scored.truncate(opt.verify);
                    trials += cands.len() + scored.len();
                    let picked: Vec<Schedule> = scored.iter().map(|&(i, _)| cands[i].clone()).collect();
                    scored.iter().map(|&(i, _)| i).zip(par_map(&picked, threads, full)).collect()
                };
                let pick = chosen.iter().fold((None, best), |acc, &(i, a)| if a < acc.1 - 1e-9 { (Some(i), a) } else { acc });
                if let (Some(i), att) = pick {
                    sched = cands[i].clone();
                    best = att;
                    kept += 1;
                    base_proxy = None;
                }
            }
            snap.advance(&ids, &sched[slot]);
            if slot % 20 == 19 {
                println!("  pass {} slot {}: {best:.2} ({kept} kept, {:.0} s)", pass + 1, slot + 1, tp.elapsed().as_secs_f64());
            }
        }
        write(&out, &sched);
        println!(
            "pass {}: ATT {best:.2} vs MaxPressure {mp_att:.2} ({:+.1} %), {trials} trials, {kept} kept, {:.0} s wall",
            pass + 1,
            100.0 * (best / mp_att - 1.0),
            tp.elapsed().as_secs_f64()
        );
        if kept == 0 {
            break;
        }
    }
    let check = setup.replay(&sched);
    println!(
        "final {best:.2}; replayed through Controller {check:.2} ({:+.1} % vs MaxPressure); schedule in {}; {:.0} s wall",
        100.0 * (check / mp_att - 1.0),
        out.display(),
        t0.elapsed().as_secs_f64()
    );
}

/// `stats FILE…` mode: how often schedules switch, how long phases run, how they share
/// the hour, and (against the first) how many slots differ; with each schedule's ATT.
fn stats(setup: &Setup, named: &[(String, Schedule)]) {
    let n = setup.ids.len();
    let base = &named[0].1;
    println!("| schedule | ATT | throughput | mean delay (s) | running / waiting to enter at the end | switches / junction-hour | mean run (slots) | runs of 1 / 2 / 3 / 4-5 / 6+ slots | phase share 0/1/2/3 | slots differing from {} |", named[0].0);
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, s) in named {
        let m = setup.run_metrics(Box::new(Table { ids: setup.ids.clone(), sched: s.clone() }));
        let (mut switches, mut runs, mut hist, mut share) = (0usize, 0usize, [0usize; 5], [0usize; 4]);
        for k in 0..n {
            let mut len = 0;
            for slot in 0..s.len() {
                share[s[slot][k] as usize] += 1;
                if slot > 0 && s[slot][k] != s[slot - 1][k] {
                    switches += 1;
                    runs += 1;
                    hist[bucket(len)] += 1;
                    len = 0;
                }
                len += 1;
            }
            runs += 1;
            hist[bucket(len)] += 1;
        }
        let differ: usize = (0..s.len()).map(|t| (0..n).filter(|&k| s[t][k] != base[t][k]).count()).sum();
        let tot = (n * s.len()) as f64;
        println!(
            "| {name} | {:.2} | {} | {:.1} | {} / {} | {:.1} | {:.2} | {} | {} | {:.1} % |",
            m.average_travel_time_s,
            m.throughput,
            m.mean_delay_s,
            m.vehicles_running,
            m.vehicles_waiting,
            switches as f64 / n as f64,
            tot / runs as f64,
            hist.iter().map(|h| h.to_string()).collect::<Vec<_>>().join(" / "),
            share.iter().map(|&c| format!("{:.0}", 100.0 * c as f64 / tot)).collect::<Vec<_>>().join("/"),
            100.0 * differ as f64 / tot
        );
    }
    // Per junction: switches in each schedule.
    println!("switches per junction (junction order of `junctions()`):");
    for (name, s) in named {
        let per: Vec<String> = (0..n).map(|k| (1..s.len()).filter(|&t| s[t][k] != s[t - 1][k]).count().to_string()).collect();
        println!("  {name}: {}", per.join(" "));
    }
}

/// Run-length histogram bucket: 1, 2, 3, 4-5, 6+ slots.
fn bucket(len: usize) -> usize {
    match len {
        0 | 1 => 0,
        2 => 1,
        3 => 2,
        4 | 5 => 3,
        _ => 4,
    }
}

/// Simulated annealing settings: random moves (one junction, one phase for 1..=`block`
/// slots from a random slot), accepted if better or with probability exp(-Δ/T), T
/// falling linearly from `t0` to 0 over `seconds` of wall time.
#[derive(Clone, Copy, Debug)]
struct Anneal {
    seconds: f64,
    t0: f64,
    block: usize,
    seed: u64,
}

/// Anneal `sched` (see [`Anneal`]); snapshots at every slot are recomputed lazily after an
/// accepted move. Returns the best schedule seen (also written to `out`).
fn anneal(setup: &Setup, phases: &[u8], mut sched: Schedule, a: Anneal, out: &Path) -> Schedule {
    let ids = &setup.ids;
    let origin = Snap {
        sim: Sim::new(&setup.scenario, SimConfig::default()),
        safety: SafetyLayer::new(&setup.scenario.network, setup.js.clone(), Protocol::Benchmark.timing()).expect("safety"),
    };
    let mut snaps: Vec<Snap> = vec![origin];
    let mut cur = finish(&snaps[0], ids, &sched, 0);
    let (mut best, mut best_s) = (cur, sched.clone());
    let mut rng = a.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let t0 = Instant::now();
    let (mut trials, mut accepted, mut last_print) = (0u64, 0u64, 0.0);
    println!("anneal start {cur:.2}");
    loop {
        let el = t0.elapsed().as_secs_f64();
        if el >= a.seconds {
            break;
        }
        let temp = a.t0 * (1.0 - el / a.seconds);
        let (slot, k) = (next(SLOTS), next(ids.len()));
        let len = 1 + next(a.block.max(1));
        let q = next(phases[k] as usize) as u8;
        let mut cand = sched.clone();
        for row in cand.iter_mut().skip(slot).take(len) {
            row[k] = q;
        }
        if cand == sched {
            continue;
        }
        while snaps.len() <= slot {
            let t = snaps.len() - 1;
            let mut s = snaps[t].clone();
            s.advance(ids, &sched[t]);
            snaps.push(s);
        }
        let att = finish(&snaps[slot], ids, &cand, slot);
        trials += 1;
        let d = att - cur;
        let u = next(1 << 30) as f64 / (1u64 << 30) as f64;
        if d < 0.0 || (temp > 0.0 && u < (-d / temp).exp()) {
            sched = cand;
            cur = att;
            accepted += 1;
            snaps.truncate(slot + 1);
            if cur < best - 1e-9 {
                best = cur;
                best_s = sched.clone();
            }
        }
        if el - last_print >= 60.0 {
            last_print = el;
            write(out, &best_s);
            println!("  {el:.0} s: T {temp:.3}, current {cur:.2}, best {best:.2}, {trials} trials, {accepted} accepted");
        }
    }
    write(out, &best_s);
    println!("anneal: best {best:.2}, {trials} trials, {accepted} accepted, {:.0} s", t0.elapsed().as_secs_f64());
    best_s
}

/// MaxPressure and CityBrain (the real `eval` policies, by name) under the benchmark
/// protocol and under relaxed versions of its timing (no yellow; shorter decisions).
fn relax(setup: &Setup) {
    let b = Protocol::Benchmark.timing();
    let variants = [
        ("benchmark (30 s, yellow 5 s)", b),
        ("30 s, no yellow", control::Timing { yellow: 0.0, ..b }),
        ("15 s, yellow 5 s", control::Timing { decision_interval: 15.0, ..b }),
        ("20 s, yellow 5 s", control::Timing { decision_interval: 20.0, ..b }),
    ];
    for (label, timing) in variants {
        let row: Vec<String> = ["maxpressure", "citybrain"]
            .iter()
            .map(|name| {
                let t0 = Instant::now();
                let mut ctl = Controller::with_timing(&setup.scenario, name, Protocol::Benchmark.phase_set(), timing, 3600.0)
                    .expect("controller");
                let mut sim = Sim::new(&setup.scenario, SimConfig::default());
                for _ in 0..SLOTS * SLOT_S {
                    ctl.before_step(&mut sim);
                    sim.step();
                }
                format!("{name} {:.2} ({:.0} s wall)", sim.metrics().average_travel_time_s, t0.elapsed().as_secs_f64())
            })
            .collect();
        println!("{label}: {}", row.join(", "));
    }
    // Not a protocol: every movement green all hour, only the twin's right-of-way rules
    // (yield at crossing points, deadlock breaking); what signal-free crossing would give.
    let mut sim = Sim::new(&setup.scenario, SimConfig::default());
    for j in &setup.js {
        sim.set_green(j.id, &vec![true; j.len()]);
    }
    for _ in 0..SLOTS * SLOT_S {
        sim.step();
    }
    let m = sim.metrics();
    println!(
        "no signals (all green, not a protocol): ATT {:.2}, throughput {}, mean delay {:.1}",
        m.average_travel_time_s, m.throughput, m.mean_delay_s
    );
}

/// Rollout (policy improvement) with perfect information over the whole rest of the hour:
/// at each slot, junction by junction, try every phase for this slot with the choices
/// already made for the others (the rest of the slot's row as `base` would pick it), the
/// whole rest of the hour played by `base` in closed loop on the live model (true future
/// vehicles and routes); keep the best. Deterministic, so the result is never worse than
/// `base` alone. Returns the realised schedule.
fn rollout(setup: &Setup, phases: &[u8], base: &str) -> Schedule {
    let p = Protocol::Benchmark;
    let net = &setup.scenario.network;
    let ctx = PolicyContext { net, junctions: &setup.js, timing: p.timing(), demand: &setup.scenario.demand, horizon_s: 3600.0 };
    let mut policy = by_name(base, &ctx).expect("policy");
    let mut observer = control::Observer::new(net, &setup.js);
    let ids = &setup.ids;
    let mut snap = Snap {
        sim: Sim::new(&setup.scenario, SimConfig::default()),
        safety: SafetyLayer::new(net, setup.js.clone(), p.timing()).expect("safety"),
    };
    // The base's row at the current state of `s` (previous phase where it has no request).
    let base_row = |policy: &mut Box<dyn Policy>, observer: &mut control::Observer, s: &Snap, prev: &[u8]| -> Vec<u8> {
        let reqs = policy.decide(observer.observe(&s.sim, &s.safety), s.sim.time());
        let mut row = prev.to_vec();
        for r in reqs {
            if let (Some(k), Target::Phase(q)) = (s.safety.index_of(r.intersection), r.target) {
                row[k] = q as u8;
            }
        }
        row
    };
    let mut sched: Schedule = Vec::new();
    let t0 = Instant::now();
    let mut value = f64::NAN;
    for slot in 0..SLOTS {
        let prev = sched.last().cloned().unwrap_or_else(|| vec![0; ids.len()]);
        let mut row = base_row(&mut policy, &mut observer, &snap, &prev);
        let mut play = |row: &[u8]| {
            let mut s = snap.clone();
            s.advance(ids, row);
            let mut last = row.to_vec();
            for _ in slot + 1..SLOTS {
                last = base_row(&mut policy, &mut observer, &s, &last);
                s.advance(ids, &last);
            }
            s.sim.metrics().average_travel_time_s
        };
        value = play(&row);
        for k in 0..ids.len() {
            let first = row[k];
            for q in (0..phases[k]).filter(|&q| q != first) {
                let mut cand = row.clone();
                cand[k] = q;
                let v = play(&cand);
                if v < value - 1e-9 {
                    value = v;
                    row = cand;
                }
            }
        }
        snap.advance(ids, &row);
        sched.push(row);
        if slot % 20 == 19 {
            println!("  slot {}: hour ATT {value:.2} ({:.0} s)", slot + 1, t0.elapsed().as_secs_f64());
        }
    }
    println!("rollout over {base}: {value:.2}, {:.0} s wall", t0.elapsed().as_secs_f64());
    sched
}
