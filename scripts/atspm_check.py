"""Read citybrain's ATSPM output with the `atspm` package (PyPI) and check it.

Usage: python atspm_check.py DIR   (DIR from `citybrain sim --atspm DIR`)

Runs atspm's timeline, terminations, arrival-on-green and split-failure measures on
DIR/events.csv with DIR/detectors.csv and fails (exit 1) when any is empty, when the
detector configuration is not what ATSPM reads, or when the green intervals the
timeline finds disagree with the twin's own signal trace (DIR/signal_trace.csv).
"""

import sys

import pandas as pd
from atspm import SignalDataProcessor

TOL_S = 0.002  # events are logged to the millisecond


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def civil(col):
    """`2026-01-05 07:00:01.000+08:00` -> naive civil datetime (what controllers log)."""
    return pd.to_datetime(col.str.slice(0, 23), format="%Y-%m-%d %H:%M:%S.%f")


def main(d):
    raw = pd.read_csv(f"{d}/events.csv", dtype={"DeviceId": str})
    raw["TimeStamp"] = civil(raw["TimeStamp"])
    if not raw["TimeStamp"].is_monotonic_increasing:
        fail("events.csv is not sorted by time")
    cfg = pd.read_csv(f"{d}/detectors.csv", dtype={"DeviceId": str})
    for col in ["DeviceId", "Parameter", "Phase", "Function", "Distance_m"]:
        if col not in cfg.columns:
            fail(f"detectors.csv has no {col} column")
    if set(cfg["Function"]) != {"Presence", "Advance"}:
        fail(f"detector functions {set(cfg['Function'])}")
    codes = set(raw["EventId"])
    for c in [1, 7, 8, 9, 10, 11, 43, 44, 81, 82, 131, 132]:
        if c not in codes:
            fail(f"event code {c} never logged (codes: {sorted(codes)})")
    if not codes & {4, 5, 6}:
        fail("no termination (4, 5 or 6) logged")
    # Every phase parameter is a NEMA phase the detector configuration names.
    phases = set(raw.loc[raw["EventId"] < 81, "Parameter"])
    if not phases <= set(range(1, 17)):
        fail(f"phase numbers outside 1..16: {sorted(phases)}")
    aggregations = [
        {"name": "has_data", "params": {"no_data_min": 5, "min_data_points": 3}},
        {"name": "timeline", "params": {"cushion_time": 1, "max_event_days": 1, "min_duration": 0}},
        {"name": "terminations", "params": {}},
        {"name": "arrival_on_green", "params": {"latency_offset_seconds": 0}},
        {"name": "split_failures", "params": {"red_time": 5, "red_occupancy_threshold": 0.80,
                                              "green_occupancy_threshold": 0.80, "by_approach": True}},
    ]
    with SignalDataProcessor(raw_data=raw, detector_config=cfg, bin_size=15, verbose=0,
                             aggregations=aggregations) as p:
        p.load()
        p.aggregate()
        results = {a["name"]: p.conn.query(f"SELECT * FROM {a['name']}").df() for a in aggregations}
    for name in ["timeline", "terminations", "arrival_on_green", "split_failures"]:
        n = len(results[name])
        print(f"{name}: {n} rows")
        if n == 0:
            fail(f"atspm's {name} is empty")
    aog = results["arrival_on_green"]
    print(f"arrival on green: {aog['Percent_AOG'].mean():.1%} over {int(aog['Total_Actuations'].sum())} advance actuations")
    term = results["terminations"].groupby("PerformanceMeasure")["Total"].sum().to_dict()
    print(f"terminations: {term}")
    sf = results["split_failures"]
    print(f"split failures: {int(sf['Split_Failure'].sum())} in {len(sf)} phase-cycles")

    # Green intervals: atspm's timeline against the twin's trace.
    tl = results["timeline"]
    green = tl[tl["EventClass"] == "Green"].copy()
    green = green[green["EndTime"].notna()]
    trace = pd.read_csv(f"{d}/signal_trace.csv", dtype={"DeviceId": str})
    trace["GreenStart"] = civil(trace["GreenStart"])
    trace["GreenEnd"] = civil(trace["GreenEnd"])
    got = {(r.DeviceId, int(r.EventValue), r.StartTime): r.EndTime for r in green.itertuples()}
    if not got:
        fail("the timeline has no green interval")
    matched = 0
    tol = pd.Timedelta(seconds=TOL_S)
    for r in trace.itertuples():
        end = got.get((r.DeviceId, int(r.Phase), r.GreenStart))
        if end is None:
            continue
        if abs(end - r.GreenEnd) > tol:
            fail(f"{r.DeviceId} phase {r.Phase}: green from {r.GreenStart} ends at {end} in the log, {r.GreenEnd} in the twin")
        matched += 1
    # Every complete green of the log is one of the twin's, and almost every twin green
    # (all but those cut by the end of the run) is in the log.
    if matched != len(got):
        fail(f"{len(got) - matched} of {len(got)} logged greens are not in the twin's trace")
    if matched < 0.95 * len(trace):
        fail(f"only {matched} of the twin's {len(trace)} greens are in the log")
    print(f"green intervals: {matched} logged, all equal to the twin's trace ({len(trace)} greens)")
    print("atspm check passed")


if __name__ == "__main__":
    main(sys.argv[1])
