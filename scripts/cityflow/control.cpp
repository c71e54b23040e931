// CityFlow under citybrain's benchmark protocol, to check the twin's controller numbers in
// CityFlow itself (diagnostic; not part of the build or the tests).
//
// Protocol: the four benchmark phases are the roadnet's lightphases 1..4 (E-W through,
// N-S through, E-W left, N-S left; lightphase 0 is the yellow, right turns only). A decision
// every 30 s; on a change, 5 s of lightphase 0 inside the 30 s, then the new phase. The
// first decision at t = 0 sets its phase at once (the twin's `Startup` state). Signalised
// intersections are taken in roadnet order, as `control::junctions` does.
//
// usage:
//   control CONFIG.json replay SCHEDULE      play a schedule: 120 lines, one digit (0..3)
//                                            per signalised intersection, as written by
//                                            `cargo run -p control --release --example bound`
//   control CONFIG.json trace TRACE [VEH]    play a per-step signal trace: one line per step
//                                            (3,600 or more; every line is played), one
//                                            hexadecimal green mask per signalised
//                                            intersection (bit r = road link r), as written
//                                            by `cargo run -p control --release --example trace`
//                                            or `citybrain eval corridor --export` (any
//                                            protocol and policy; each distinct mask becomes an
//                                            extra lightphase). With VEH (a vehicle id such as
//                                            flow_0_0) also print that vehicle's travel time
//                                            and everyone else's average travel time
//                                            (CityFlow's definition without that vehicle)
//   control CONFIG.json mp [OUT [TIE]]       MaxPressure decided inside CityFlow; writes the
//                                            schedule it played to ./mp_schedule.txt (not
//                                            with YELLOW_OUTSIDE, off the 30 s grid)
//     OUT  count (default)  movement pressure = waiting vehicles on the movement's incoming
//                           lanes - all vehicles on its outgoing lanes x (in lanes / out
//                           lanes): the twin's `MaxPressure`
//          wait             the same with waiting vehicles on the outgoing lanes
//          road             waiting in - waiting on every lane of the exit road
//          lanelink_count   sum over the phase's lane links of start - end lane vehicles
//          lanelink_wait    the same with waiting vehicles
//     TIE  cur (default: a tie keeps the current phase, then the lower index) | first
//   The environment variable YELLOW_OUTSIDE=1 puts the yellow outside the 30 s instead
//   (35 s between decisions after a change).
//   CONFIG needs "rlTrafficLight": true.
//
// Build: it compiles against a CityFlow source tree you have (github.com/cityflow-project/
// CityFlow, its src/ and extern/ directories); nothing here fetches or builds CityFlow.
// With CITYFLOW=/path/to/CityFlow (its extern/rapidjson submodule checked out, as
// CityFlow's own CMake build needs it):
//   g++ -O2 -std=c++14 -DRAPIDJSON_HAS_STDSTRING=1 -I"$CITYFLOW/src" -I"$CITYFLOW/extern" \
//       -I"$CITYFLOW/extern/rapidjson/include" -I"$CITYFLOW/extern/milo" \
//       scripts/cityflow/control.cpp "$CITYFLOW"/src/*/*.cpp -lpthread -o cityflow_control
// It reads CityFlow's private members (the roadnet, phases and road links), so the
// standard headers come first and CityFlow's headers are included with `private` and
// `protected` defined to `public`.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#define private public
#define protected public
#include "engine/engine.h"
#undef private
#undef protected

using namespace CityFlow;

static const int SLOT = 30, YELLOW = 5, END = 3600;

// Once the engine exists, leave without ~Engine(): its worker shutdown can deadlock.
[[noreturn]] static void quit(int code) {
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);
}

// Each step, show the trace's green set at every intersection; a green set met for the
// first time becomes an extra lightphase of that intersection.
// With `veh`, `veh_tt` gets that vehicle's travel time once it has finished (else -1):
// CityFlow counts a finished trip as the time of the step it ends in minus its enter time.
static void play_trace(Engine &engine, const std::vector<Intersection *> &xs, const std::vector<std::string> &trace,
                       const char *file, const std::string &veh, double &veh_tt) {
    int n = xs.size();
    std::vector<std::map<unsigned long long, int>> phase_of(n);
    std::vector<int> shown(n, -1);
    double veh_enter = -1;
    veh_tt = -1;
    for (int t = 0; t < (int)trace.size(); ++t) {
        std::istringstream line(trace[t]);
        for (int j = 0; j < n; ++j) {
            std::string word;
            auto &links = xs[j]->roadLinks;
            auto &phases = xs[j]->trafficLight.phases;
            unsigned long long bits = 0;
            if (!(line >> word) || word.size() > 16 || word.find_first_not_of("0123456789abcdef") != std::string::npos ||
                links.size() >= 64 || (bits = std::stoull(word, nullptr, 16)) >> links.size() != 0) {
                std::fprintf(stderr, "%s line %d: word %d ('%s') is not a green mask of intersection %s (%zu road links)\n", file,
                             t + 1, j + 1, word.c_str(), xs[j]->getId().c_str(), links.size());
                quit(2);
            }
            auto it = phase_of[j].find(bits);
            if (it == phase_of[j].end()) {
                LightPhase ph;
                ph.phase = phases.size();
                ph.time = 1;
                for (size_t r = 0; r < links.size(); ++r) ph.roadLinkAvailable.push_back((bits >> r) & 1);
                phases.push_back(ph);
                it = phase_of[j].emplace(bits, (int)phases.size() - 1).first;
            }
            if (it->second != shown[j]) {
                engine.setTrafficLightPhase(xs[j]->getId(), it->second);
                shown[j] = it->second;
            }
        }
        double now = engine.getCurrentTime();
        bool present = false;
        if (!veh.empty()) {
            auto v = engine.vehicleMap.find(veh);
            if ((present = v != engine.vehicleMap.end())) veh_enter = v->second->getEnterTime();
        }
        engine.nextStep();
        if (present && engine.vehicleMap.find(veh) == engine.vehicleMap.end()) veh_tt = now - veh_enter;
    }
}

// The MaxPressure phase (0..3) of intersection `x` under pressure definition `out_def`
// (see the usage above); `cur` is its current phase, -1 before the first decision.
static int max_pressure(Intersection *x, std::map<std::string, int> &waiting, std::map<std::string, int> &count,
                        const std::string &out_def, const std::string &tie, int cur) {
    auto &phases = x->trafficLight.getPhases();
    auto &links = x->roadLinks;
    double best = -1e18;
    int p = 0;
    for (int q = 0; q < 4; ++q) {
        const LightPhase &ph = phases[q + 1];
        double s = 0;
        for (size_t r = 0; r < links.size(); ++r) {
            if (!ph.roadLinkAvailable[r] || links[r].type == turn_right) continue;
            if (out_def == "lanelink_count" || out_def == "lanelink_wait") {
                auto &m = out_def == "lanelink_count" ? count : waiting;
                for (auto &ll : links[r].getLaneLinks()) s += m[ll.getStartLane()->getId()] - m[ll.getEndLane()->getId()];
                continue;
            }
            std::vector<std::string> ins, outs;
            for (auto &ll : links[r].getLaneLinks()) {
                std::string a = ll.getStartLane()->getId(), b = ll.getEndLane()->getId();
                if (std::find(ins.begin(), ins.end(), a) == ins.end()) ins.push_back(a);
                if (std::find(outs.begin(), outs.end(), b) == outs.end()) outs.push_back(b);
            }
            double w = 0, o = 0;
            for (auto &a : ins) w += waiting[a];
            if (out_def == "road") {
                for (auto &ln : links[r].endRoad->lanes) o += waiting[ln.getId()];
                s += w - o;
            } else {
                for (auto &b : outs) o += out_def == "wait" ? waiting[b] : count[b];
                s += w - o * (double)ins.size() / std::max<size_t>(outs.size(), 1);
            }
        }
        bool better = s > best + 1e-9 || (tie == "cur" && std::abs(s - best) <= 1e-9 && q == cur);
        if (better) {
            best = s;
            p = q;
        }
    }
    return p;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s CONFIG.json replay SCHEDULE | trace TRACE | mp [OUT [TIE]]\n", argv[0]);
        return 2;
    }
    std::string mode = argv[2];
    std::string out_def = (mode == "mp" && argc > 3) ? argv[3] : "count";
    std::string tie = (mode == "mp" && argc > 4) ? argv[4] : "cur";
    bool outside = std::getenv("YELLOW_OUTSIDE") != nullptr;
    std::vector<std::string> sched;
    if (mode == "replay" || mode == "trace") {
        if (argc < 4) { std::fprintf(stderr, "%s needs a file\n", mode.c_str()); return 2; }
        std::ifstream f(argv[3]);
        if (!f) { std::fprintf(stderr, "%s: cannot open\n", argv[3]); return 2; }
        for (std::string l; std::getline(f, l);) if (!l.empty()) sched.push_back(l);
    } else if (mode != "mp") {
        std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
        return 2;
    }
    Engine engine(argv[1], 1);
    std::vector<Intersection *> xs;
    for (auto &i : engine.roadnet.getIntersections())
        if (!i.isVirtualIntersection()) xs.push_back(&i);
    int n = xs.size();
    if (mode == "replay" || mode == "trace") {
        for (size_t k = 0; k < sched.size() && mode == "replay"; ++k)
            if ((int)sched[k].size() != n || sched[k].find_first_not_of("0123") != std::string::npos) {
                std::fprintf(stderr, "%s line %zu: want %d digits 0-3 (one per intersection), got '%s'\n", argv[3], k + 1, n,
                             sched[k].c_str());
                quit(2);
            }
        size_t need = mode == "trace" ? END : END / SLOT; // a trace plays all its lines
        if (sched.size() < need) {
            std::fprintf(stderr, "%s: %zu lines, need %zu\n", argv[3], sched.size(), need);
            quit(2);
        }
    }
    std::string veh = (mode == "trace" && argc > 4) ? argv[4] : "";
    double veh_tt = -1;
    if (mode == "trace") {
        play_trace(engine, xs, sched, argv[3], veh, veh_tt);
    } else {
        // Decisions: from the schedule or by MaxPressure, through the protocol's yellow.
        std::vector<int> cur(n, -1), want(n, -1), yellow_end(n, -1), next_decision(n, 0);
        std::string played;
        for (int t = 0; t < END; ++t) {
            if (std::find(next_decision.begin(), next_decision.end(), t) != next_decision.end()) {
                std::map<std::string, int> waiting = engine.getLaneWaitingVehicleCount();
                std::map<std::string, int> count = engine.getLaneVehicleCount();
                for (int j = 0; j < n; ++j) {
                    if (next_decision[j] != t) continue;
                    int p = mode == "replay" ? sched[t / SLOT][j] - '0' : max_pressure(xs[j], waiting, count, out_def, tie, cur[j]);
                    played.push_back('0' + p);
                    next_decision[j] = t + SLOT;
                    if (cur[j] == -1) {
                        engine.setTrafficLightPhase(xs[j]->getId(), p + 1);
                        cur[j] = p;
                    } else if (p != cur[j]) {
                        engine.setTrafficLightPhase(xs[j]->getId(), 0);
                        want[j] = p;
                        yellow_end[j] = t + YELLOW;
                        if (outside) next_decision[j] = t + YELLOW + SLOT;
                    }
                }
                if (!outside) played.push_back('\n');
            }
            for (int j = 0; j < n; ++j)
                if (yellow_end[j] == t) {
                    engine.setTrafficLightPhase(xs[j]->getId(), want[j] + 1);
                    cur[j] = want[j];
                    yellow_end[j] = -1;
                }
            engine.nextStep();
        }
        // The 30 s schedule MaxPressure played (with YELLOW_OUTSIDE decisions fall off that grid).
        if (mode == "mp" && !outside) {
            if (FILE *f = std::fopen("mp_schedule.txt", "w")) {
                std::fputs(played.c_str(), f);
                std::fclose(f);
            }
        }
    }
    double att = engine.getAverageTravelTime();
    std::printf("{\"mode\":\"%s\",\"avg_travel_time\":%.4f,\"running\":%zu", mode.c_str(), att, engine.getVehicleCount());
    if (!veh.empty()) {
        // Vehicles counted by getAverageTravelTime(): finished ones and every one created since.
        double n = engine.finishedVehicleCnt + (double)engine.vehiclePool.size();
        if (veh_tt < 0) {
            std::printf(",\"vehicle\":\"%s\",\"vehicle_finished\":false}\n", veh.c_str());
            quit(1);
        }
        std::printf(",\"vehicle\":\"%s\",\"vehicle_travel_time\":%.4f,\"others_avg_travel_time\":%.4f,\"vehicles\":%.0f",
                    veh.c_str(), veh_tt, (att * n - veh_tt) / (n - 1), n);
    }
    std::printf("}\n");
    quit(0);
}
