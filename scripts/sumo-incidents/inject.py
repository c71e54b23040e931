#!/usr/bin/env python3
"""Incidents in SUMO, observed as citybrain's sensors would see them.

The external check of the incident detector (issue #16): data our twin did not
produce. SUMO runs a network and its demand; induction loops (E1) sit where
citybrain's registry puts its loop detectors (one per vehicle lane, at half the
lane's length); junction cameras report each approach's queue; a share of
vehicles report GPS like taxis; lane-blocking
incidents are injected through TraCI (`vehicle.setStop` of a vehicle on a chosen
lane, for a chosen time). The script writes

  OUT/observations.jsonl  one `{"observations":[...]}` batch per line, citybrain's
                          wire format, times in seconds of the run
  OUT/ground_truth.csv    `id,type,road,lanes,pos_m,lon,lat,start_s,end_s`, the
                          lane in citybrain's numbering (0 = innermost)
  OUT/detectors.add.xml   the E1 detectors given to SUMO

which `citybrain eval incidents --ground-truth OUT/ground_truth.csv
--observations OUT/observations.jsonl` scores. Needs SUMO's `traci` module and a
`sumo` binary (PyPI `eclipse-sumo` + `traci`, or Debian's `sumo` + `sumo-tools`).
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import sys
import xml.etree.ElementTree as ET

LOOP_FRACTION = 0.5  # twin::engine::DETECTOR_FRACTION
LOOP_PERIOD = 30  # twin::sensors::SensorConfig::loop_interval
PROBE_FEED = "probe:taxi"  # sense::registry::PROBE_FEED_ID
WAITING_SPEED = 0.1  # twin::engine: a vehicle slower than this is waiting


def vehicle_lanes(edge):
    """SUMO lanes of an edge that passenger cars may use, by SUMO index."""
    out = []
    for lane in edge.findall("lane"):
        allow = lane.get("allow")
        disallow = lane.get("disallow", "")
        if allow is not None and "passenger" not in allow.split() and allow != "all":
            continue
        if "passenger" in disallow.split() or disallow == "all":
            continue
        out.append(lane)
    out.sort(key=lambda l: int(l.get("index")))
    return out


def read_network(path):
    """Normal edges with their vehicle lanes, {edge: [(sumo_lane_id, length), ...]} in SUMO
    order, and the edges that end at a traffic light: {edge: junction}."""
    root = ET.parse(path).getroot()
    signalised = {j.get("id") for j in root.findall("junction") if j.get("type", "").startswith("traffic_light")}
    edges, into = {}, {}
    for e in root.findall("edge"):
        if e.get("function") in ("internal", "walkingarea", "crossing"):
            continue
        lanes = vehicle_lanes(e)
        if lanes:
            edges[e.get("id")] = [(l.get("id"), float(l.get("length"))) for l in lanes]
            if e.get("to") in signalised:
                into[e.get("id")] = e.get("to")
    return edges, into


def queue_records(traci, edges, into, t):
    """What a junction camera's analytics report per approach, as the twin's cameras do
    (`twin::engine::Sim::lane_stats`): the queue from the stop line back to the rear of
    the last vehicle of the standing run at the lane's front (the longest lane of the
    road), and the road's standing vehicles."""
    out = []
    for edge, junction in into.items():
        queue_m, waiting = 0.0, 0
        for lane_id, length in edges[edge]:
            vids = traci.lane.getLastStepVehicleIDs(lane_id)
            front = sorted(((traci.vehicle.getLanePosition(v), v) for v in vids), reverse=True)
            in_queue = True
            for pos, v in front:
                if traci.vehicle.getSpeed(v) < WAITING_SPEED:
                    waiting += 1
                    if in_queue:
                        queue_m = max(queue_m, length - (pos - traci.vehicle.getLength(v)))
                else:
                    in_queue = False
        out.append({"sensor": f"camera:{junction}", "kind": "queue", "time": t, "road": edge,
                    "queue_m": round(max(0.0, queue_m), 2), "waiting": float(waiting)})
    return out


def ours(edges, edge, sumo_pos):
    """citybrain's lane index of the SUMO lane at position `sumo_pos` among the edge's
    vehicle lanes (citybrain reverses them: its 0 is SUMO's leftmost)."""
    return len(edges[edge]) - 1 - sumo_pos


def write_detectors(edges, path, out_file):
    with open(path, "w") as f:
        f.write("<additional>\n")
        for edge, lanes in edges.items():
            for k, (lane_id, length) in enumerate(lanes):
                det = f"loop:{edge}:{ours(edges, edge, k)}"
                pos = max(0.1, min(length - 0.1, length * LOOP_FRACTION))
                f.write(
                    f'  <inductionLoop id="{det}" lane="{lane_id}" pos="{pos:.2f}" '
                    f'period="{LOOP_PERIOD}" file="{out_file}"/>\n'
                )
        f.write("</additional>\n")


def token(vid):
    """A pseudonymous 24-hex token for a probe vehicle (no plate ever leaves)."""
    return hashlib.sha256(("sumo-probe:" + vid).encode()).hexdigest()[:24]


def loop_records(path):
    """E1 interval output → citybrain loop records."""
    out = []
    for _, el in ET.iterparse(path):
        if el.tag != "interval":
            continue
        begin, end = float(el.get("begin")), float(el.get("end"))
        rec = {
            "sensor": el.get("id"),
            "kind": "loop",
            "time": end,
            "start": begin,
            "end": end,
            "count": float(el.get("nVehContrib")),
            "occupancy": min(1.0, max(0.0, float(el.get("occupancy")) / 100.0)),
        }
        speed = float(el.get("speed"))
        if speed >= 0:
            rec["speed"] = speed
        out.append(rec)
        el.clear()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--net", required=True, help="SUMO .net.xml")
    ap.add_argument("--routes", required=True, help="SUMO .rou.xml")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--duration", type=int, default=3600, help="seconds to simulate")
    ap.add_argument("--incidents", type=int, default=10, help="lane-blocking incidents to inject")
    ap.add_argument("--min-incident", type=float, default=300.0, help="shortest incident, s")
    ap.add_argument("--max-incident", type=float, default=900.0, help="longest incident, s")
    ap.add_argument("--probe-share", type=float, default=0.1, help="share of vehicles reporting GPS")
    ap.add_argument("--probe-period", type=float, default=10.0, help="seconds between a probe's reports")
    ap.add_argument("--min-road", type=float, default=60.0, help="no incident on shorter roads, m")
    ap.add_argument("--scale", type=float, default=1.0, help="demand scale (SUMO's --scale)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sumo", default=shutil.which("sumo") or "sumo", help="the sumo binary")
    a = ap.parse_args()

    import traci  # imported here so --help works without SUMO

    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    edges, into = read_network(a.net)
    e1_out = os.path.abspath(os.path.join(a.out, "e1.xml"))
    add = os.path.join(a.out, "detectors.add.xml")
    write_detectors(edges, add, e1_out)

    # The plan: road, SUMO lane position, place along the road, start, duration.
    candidates = sorted(e for e, lanes in edges.items() if lanes[0][1] >= a.min_road)
    if not candidates:
        sys.exit(f"{a.net}: no road of at least {a.min_road} m for an incident")
    latest = max(60.0, a.duration - a.min_incident)
    plan = []
    for n in range(a.incidents):
        edge = rng.choice(candidates)
        k = rng.randrange(len(edges[edge]))
        length = edges[edge][k][1]
        pos = rng.uniform(0.3, 0.85) * length
        start = rng.uniform(60.0, latest)
        dur = rng.uniform(a.min_incident, a.max_incident)
        plan.append({"id": f"sumo-{n}", "edge": edge, "k": k, "pos": pos, "at": start, "dur": dur,
                     "veh": None, "start": None})
    plan.sort(key=lambda p: p["at"])

    cmd = [a.sumo, "-n", a.net, "-r", a.routes, "-a", add, "--begin", "0", "--end", str(a.duration),
           "--step-length", "1", "--no-step-log", "true", "--no-warnings", "true", "--seed", str(a.seed), "--scale", str(a.scale),
           "--duration-log.disable", "true"]
    traci.start(cmd)
    probes = {}  # vehicle -> next report time
    batches = {}  # 5-second bucket -> records
    prng = random.Random(a.seed + 1)

    def put(rec):
        batches.setdefault(int(rec["time"] // 5), []).append(rec)

    t = 0.0
    while t < a.duration:
        traci.simulationStep()
        t = traci.simulation.getTime()
        for vid in traci.simulation.getDepartedIDList():
            if prng.random() < a.probe_share:
                probes[vid] = t + prng.uniform(0.0, a.probe_period)
        if int(t) % LOOP_PERIOD == 0:
            for rec in queue_records(traci, edges, into, t):
                put(rec)
        for vid in traci.simulation.getArrivedIDList():
            probes.pop(vid, None)
        for vid, due in list(probes.items()):
            if due > t:
                continue
            probes[vid] = t + a.probe_period
            try:
                x, y = traci.vehicle.getPosition(vid)
                speed = traci.vehicle.getSpeed(vid)
                angle = traci.vehicle.getAngle(vid)  # SUMO: degrees clockwise from north
            except traci.TraCIException:
                continue
            if not (math.isfinite(x) and math.isfinite(y)):
                continue
            put({"sensor": PROBE_FEED, "kind": "probe", "time": t, "token": token(vid), "x": round(x, 2),
                 "y": round(y, 2), "speed": round(max(0.0, speed), 3), "heading": round(angle % 360.0, 1)})
        for p in plan:
            if p["start"] is None and p["veh"] is not None:
                try:
                    if traci.vehicle.isStopped(p["veh"]):
                        p["start"] = t
                except traci.TraCIException:
                    p["veh"] = None  # it left; choose another
            if p["veh"] is not None or p["at"] > t or p["start"] is not None:
                continue
            # The vehicle nearest upstream of the spot that can still stop there.
            lane_id = edges[p["edge"]][p["k"]][0]
            best = None
            for vid in traci.lane.getLastStepVehicleIDs(lane_id):
                gap = p["pos"] - traci.vehicle.getLanePosition(vid)
                v = traci.vehicle.getSpeed(vid)
                need = v * v / (2.0 * max(0.5, traci.vehicle.getDecel(vid))) + 5.0
                if gap >= need and (best is None or gap < best[0]):
                    best = (gap, vid)
            if best is None:
                continue
            vid = best[1]
            try:
                traci.vehicle.setStop(vid, p["edge"], pos=p["pos"], laneIndex=p["k"], duration=p["dur"])
                p["veh"] = vid
            except traci.TraCIException:
                pass
    traci.close()

    for rec in loop_records(e1_out):
        put(rec)
    with open(os.path.join(a.out, "observations.jsonl"), "w") as f:
        for b in sorted(batches):
            f.write(json.dumps({"observations": sorted(batches[b], key=lambda r: r["time"])}) + "\n")

    placed = [p for p in plan if p["start"] is not None]
    with open(os.path.join(a.out, "ground_truth.csv"), "w") as f:
        f.write("id,type,road,lanes,pos_m,lon,lat,start_s,end_s\n")
        for p in placed:
            end = min(p["start"] + p["dur"], float(a.duration))
            lane = ours(edges, p["edge"], p["k"])
            f.write(f'{p["id"]},stalled,{p["edge"]},{lane},{p["pos"]:.2f},,,{p["start"]:.1f},{end:.1f}\n')
    print(f"{len(placed)} of {len(plan)} incidents placed; {sum(len(v) for v in batches.values())} observations "
          f"in {len(batches)} batches -> {a.out}")
    if len(placed) < len(plan):
        print(f"{len(plan) - len(placed)} incidents found no vehicle to stop in time (left out of the ground truth)")


if __name__ == "__main__":
    main()
