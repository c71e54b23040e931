#!/usr/bin/env python3
"""External check of the corridor's controller event log with the `atspm` package (PyPI).

Against a running brain (`citybrain demo`): log in as an emergency-services operator,
start a green corridor, wait until its vehicle arrived, download as traffic police (the
controller logs are theirs) the ATSPM hi-res log (`/api/v1/signals/events`, CSV) of
every signal on its route, run `atspm`'s `timeline`
aggregation on it, and check that its `Preempt` rows (102 call on -> 104 call off)
match the corridor's preemption intervals (call placed -> vehicle passed) to 1 s.

usage: atspm_check.py BASE_URL ES_USER ES_PASSWORD TP_USER TP_PASSWORD ORIGIN DESTINATION
(needs `pip install atspm`; prints the Preempt rows and exits 1 on a mismatch)
"""
import http.cookiejar
import io
import json
import sys
import time
import urllib.request

import pandas as pd
from atspm import SignalDataProcessor

base, user, password, tp_user, tp_password, origin, destination = sys.argv[1:8]
es = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
tp = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def call(path, body=None, csrf=None, raw=False, web=es):
    req = urllib.request.Request(base + "/api/v1/" + path)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
        if csrf:
            req.add_header("X-CSRF-Token", csrf)
    with web.open(req) as r:
        text = r.read().decode()
    return text if raw else json.loads(text)


login = call("auth/login", {"name": user, "password": password})
call("auth/login", {"name": tp_user, "password": tp_password}, web=tp)
start = call("corridors", {"origin": origin, "destination": destination, "vehicle": "ambulance",
                           "priority": 5, "reason": "atspm check"}, csrf=login.get("csrf"))
cid = start["id"]
for _ in range(1200):
    c = call(f"corridors/{cid}")
    if c["status"] in ("arrived", "failed") and c["recovered"]:
        break
    time.sleep(0.25)
assert c["status"] == "arrived", c
rows = []
ids = {}
for s in c["signals"]:
    frm, to = s["called_at"] - 60, s["passed_at"] + 120
    csv = call(f"signals/events?intersection={s['intersection']}&from={frm}&to={to}", raw=True, web=tp)
    df = pd.read_csv(io.StringIO(csv))
    ids[s["intersection"]] = len(ids) + 1
    df["DeviceId"] = ids[s["intersection"]]
    rows.append(df)
raw = pd.concat(rows)
# The log's civil time with its offset, as naive local time (atspm's TimeStamp).
raw["TimeStamp"] = pd.to_datetime(raw["TimeStamp"].str.slice(0, 23))
raw = raw[["TimeStamp", "DeviceId", "EventId", "Parameter"]]
proc = SignalDataProcessor(raw_data=raw, bin_size=15, aggregations=[
    {"name": "has_data", "params": {"no_data_min": 1, "min_data_points": 1}},
    {"name": "timeline", "params": {"cushion_time": 1, "min_duration": 0, "max_event_gap_seconds": None}},
], verbose=0)
proc.load()
proc.aggregate()
timeline = proc.conn.query("SELECT * FROM timeline").df()
pre = timeline[timeline["EventClass"].astype(str).str.startswith("Preempt")] if "EventClass" in timeline else \
    timeline[timeline["Category"].astype(str).str.startswith("Preempt")]
print(pre.to_string())
bad = 0
t0 = pd.Timestamp(raw["TimeStamp"].min())
for s in c["signals"]:
    dev = ids[s["intersection"]]
    got = pre[pre["DeviceId"] == dev]
    want = s["passed_at"] - s["called_at"]
    ok = len(got) == 1 and abs(float(got["Duration"].iloc[0]) - want) <= 1.0
    print(f"{s['intersection']}: corridor preempted {want:.0f} s; atspm Preempt rows {len(got)}"
          + (f", {float(got['Duration'].iloc[0]):.0f} s" if len(got) else "") + ("" if ok else "  MISMATCH"))
    bad += not ok
sys.exit(1 if bad else 0)
