//! The runtime with a real SQLite file: plug-ins see durable batches and ticks and
//! raise events and commands; the bus delivers in order; a panicking plug-in is
//! disabled without harming ingestion; the authoriser is asked for every call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use brain::{
    Action, Authorizer, Brain, BrainConfig, BrainError, BusMessage, Caller, ClockSource, Command, Context, Denied, EventKind,
    Plugin, Severity, Subscriber, Tick,
};
use sense::{RawRecord, WireRecord};

fn temp_db(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("citybrain-brain-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d.join("brain.sqlite")
}

/// A brain on a driven clock starting at `start` (the tests' records use small times).
fn driven(name: &str, start: f64) -> BrainConfig {
    BrainConfig { clock: ClockSource::Driven, day_start_s: start, ..BrainConfig::new(temp_db(name)) }
}

fn loop_record(brain: &Brain, t: f64, speed: f64, occupancy: f64) -> RawRecord {
    let id = brain.registry.sensors().find(|(_, s)| s.kind == sense::SensorKind::Loop).unwrap().1.id.clone();
    RawRecord::from(WireRecord {
        sensor: Some(id),
        kind: Some("loop".into()),
        time: Some(t),
        start: Some(t - 30.0),
        end: Some(t),
        count: Some(5.0),
        occupancy: Some(occupancy),
        speed: Some(speed),
        ..Default::default()
    })
}

/// Counts what it sees; raises an event per tick and a command per batch.
#[derive(Default)]
struct Probe {
    seen: Arc<Mutex<(usize, usize)>>,
}
impl Plugin for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn on_observations(&mut self, batch: &[sense::Observation], cx: &mut Context<'_>) {
        self.seen.lock().unwrap().0 += batch.len();
        cx.command(Command::Release { intersection: twin::IntersectionId(1) });
    }
    fn on_tick(&mut self, tick: &Tick, cx: &mut Context<'_>) {
        self.seen.lock().unwrap().1 += 1;
        cx.emit(EventKind::Congestion { road: tick.state.roads[0].road }, Severity::Info, "probe");
    }
}

struct Panicker;
impl Plugin for Panicker {
    fn name(&self) -> &'static str {
        "panicker"
    }
    fn on_observations(&mut self, _: &[sense::Observation], _: &mut Context<'_>) {
        panic!("deliberate plug-in bug");
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<&'static str>>);
impl Subscriber for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn deliver(&self, msg: &BusMessage) {
        self.0.lock().unwrap().push(match msg {
            BusMessage::Accepted(_) => "accepted",
            BusMessage::Tick(_) => "tick",
            BusMessage::Event(_) => "event",
            BusMessage::Command(_) => "command",
        });
    }
}

#[test]
fn plugins_see_durable_batches_and_ticks_and_raise_events_and_commands() {
    let brain = Brain::open(sense::testnet::corridor(), &driven("plugins", 100.0)).unwrap();
    let probe = Probe::default();
    let seen = probe.seen.clone();
    brain.register(Box::new(probe));
    brain.register(Box::new(Panicker));
    let rec = Arc::new(Recorder::default());
    brain.bus().subscribe(rec.clone());

    let out = brain.ingest_records(&[loop_record(&brain, 100.0, 9.0, 0.1), loop_record(&brain, 130.0, 9.0, 7.0)]);
    assert!(out.stored);
    assert_eq!((out.report.accepted, out.report.rejected), (1, 1));
    // The panicking plug-in is disabled; the probe still ran and ingestion succeeded.
    assert_eq!(brain.plugins(), vec![("probe", true), ("panicker", false)]);
    assert_eq!(brain.counters().plugin_panics, 1);
    assert_eq!(*seen.lock().unwrap(), (1, 0));
    // Durable before visible: the store already has the batch.
    assert_eq!(brain.stored_until(), Some(100.0));

    brain.tick(100.0, 0, 0);
    assert_eq!(*seen.lock().unwrap(), (1, 1));
    let events = brain.events(&Caller::anonymous(), 10).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].id, events[0].source, events[0].time), (1, "probe", 100.0));
    assert_eq!(brain.take_commands(), vec![Command::Release { intersection: twin::IntersectionId(1) }]);
    assert!(brain.take_commands().is_empty());
    assert_eq!(*rec.0.lock().unwrap(), vec!["command", "accepted", "event", "tick"]);

    // A second batch after the panic: accepted, the probe sees it, no new panic.
    let out = brain.ingest_records(&[loop_record(&brain, 160.0, 9.0, 0.1)]);
    assert_eq!(out.report.accepted, 1);
    assert_eq!(seen.lock().unwrap().0, 2);
    assert_eq!(brain.counters().plugin_panics, 1);
}

#[test]
fn congestion_watch_raises_and_clears() {
    use brain::plugins::{CongestionWatch, CongestionWatchConfig};
    let brain = Brain::open(sense::testnet::corridor(), &driven("congestion", 1000.0)).unwrap();
    brain.register(Box::new(CongestionWatch::new(CongestionWatchConfig { sustain_s: 60.0, clear_s: 30.0 })));
    // Crawling traffic on one loop: its road is graded congested at every tick.
    let mut t = 1000.0;
    for _ in 0..6 {
        brain.drive_clock(t);
        brain.ingest_records(&[loop_record(&brain, t, 0.8, 0.6)]);
        brain.tick(t, 0, 0);
        t += 20.0;
    }
    let ev = brain.events(&Caller::anonymous(), 10).unwrap();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(matches!(ev[0].kind, EventKind::Congestion { .. }));
    // Free flow again: cleared after `clear_s`.
    for _ in 0..8 {
        brain.drive_clock(t);
        brain.ingest_records(&[loop_record(&brain, t, 16.0, 0.05)]);
        brain.tick(t, 0, 0);
        t += 20.0;
    }
    let ev = brain.events(&Caller::anonymous(), 10).unwrap();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(matches!(ev[1].kind, EventKind::CongestionCleared { .. }));
}

/// Refuses everything but ingestion, and counts the questions.
struct OnlyIngest(AtomicBool);
impl Authorizer for OnlyIngest {
    fn authorize(&self, _: &Caller, a: &Action<'_>) -> Result<(), Denied> {
        self.0.store(true, Ordering::Relaxed);
        match a {
            Action::Ingest => Ok(()),
            other => Err(Denied(format!("{other:?}"))),
        }
    }
}

#[test]
fn every_runtime_call_asks_the_authoriser() {
    let brain = Brain::open_with(
        sense::testnet::corridor(),
        &BrainConfig::new(temp_db("authz")),
        Box::new(OnlyIngest(AtomicBool::new(false))),
    )
    .unwrap();
    let c = Caller::anonymous();
    assert!(brain.ingest_body(&c, br#"{"observations":[]}"#).is_ok());
    assert!(matches!(brain.history(&c, "city", 0.0, 10.0, 60.0), Err(BrainError::Denied(_))));
    assert!(matches!(brain.signal_events(&c, "B", 0.0, 10.0), Err(BrainError::Denied(_))));
    assert!(matches!(brain.rejected(&c, None, 10), Err(BrainError::Denied(_))));
    assert!(matches!(brain.events(&c, 10), Err(BrainError::Denied(_))));
    assert!(matches!(brain.snapshot_at(&c, 0.0), Err(BrainError::Denied(_))));
    assert!(matches!(brain.signals(&c), Err(BrainError::Denied(_))));
    assert!(matches!(brain.sensors(&c), Err(BrainError::Denied(_))));
}

#[test]
fn history_errors_name_the_problem() {
    let brain = Brain::open(sense::testnet::corridor(), &BrainConfig::new(temp_db("scope"))).unwrap();
    let c = Caller::anonymous();
    assert!(
        matches!(brain.history(&c, "road:nowhere", 0.0, 10.0, 60.0), Err(BrainError::UnknownEntity(m)) if m.contains("nowhere"))
    );
    assert!(matches!(brain.history(&c, "planet:mars", 0.0, 10.0, 60.0), Err(BrainError::Invalid(_))));
    assert!(matches!(brain.signal_events(&c, "Z", 0.0, 10.0), Err(BrainError::UnknownEntity(_))));
    assert!(brain.history(&c, "intersection:B", 0.0, 10.0, 60.0).unwrap().points.is_empty());
}

/// A record with an id is stored once: a resent batch and a repeat inside one batch are
/// answered accepted, counted as duplicates, not stored, not shown to plug-ins again;
/// indices of the other records' results stay the caller's.
#[test]
fn records_with_an_id_are_stored_once() {
    let brain = Brain::open(sense::testnet::corridor(), &driven("dedupe", 1000.0)).unwrap();
    let seen = Arc::new(Mutex::new((0, 0)));
    brain.register(Box::new(Probe { seen: seen.clone() }));
    let with_id = |t: f64, id: &str| {
        let RawRecord::Record(mut w) = loop_record(&brain, t, 8.0, 0.1) else { unreachable!() };
        w.id = Some(id.into());
        RawRecord::Record(w)
    };
    let batch = vec![with_id(990.0, "a"), with_id(991.0, "b"), with_id(990.0, "a"), loop_record(&brain, 993.0, 999.0, 0.1)];
    let out = brain.ingest_records(&batch);
    assert!(out.stored);
    assert_eq!(out.duplicates, 1, "the second `a` of the batch");
    assert_eq!((out.report.accepted, out.report.rejected), (3, 1));
    let status: Vec<(usize, bool)> = out.report.results.iter().map(|(i, r)| (*i, r.is_ok())).collect();
    assert_eq!(status, vec![(0, true), (1, true), (2, true), (3, false)]);
    assert_eq!(out.report.rejections[0].index, 3, "in the caller's numbering");
    assert_eq!(brain.counters().accepted, 2);
    assert_eq!(seen.lock().unwrap().0, 2);
    let again = brain.ingest_records(&batch[..2]);
    assert_eq!((again.duplicates, again.report.accepted), (2, 2));
    assert_eq!(brain.counters().accepted, 2, "nothing stored again");
    assert_eq!(seen.lock().unwrap().0, 2, "plug-ins see a record once");
}
