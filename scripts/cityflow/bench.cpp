// Minimal driver: build CityFlow::Engine from a config JSON, run N steps single-threaded,
// print the load and run times and CityFlow's average travel time (diagnostic; not part of
// the build, the tests or CI).
//
// It compiles against a CityFlow source tree you have (github.com/cityflow-project/CityFlow,
// its src/ and extern/ directories); nothing here fetches or builds CityFlow. With
// CITYFLOW=/path/to/CityFlow:
//   g++ -O2 -std=c++14 -I"$CITYFLOW/src" -I"$CITYFLOW/extern" -I"$CITYFLOW/extern/compat" \
//       -I"$CITYFLOW/extern/milo" scripts/cityflow/bench.cpp "$CITYFLOW"/src/*/*.cpp -lpthread \
//       -o cityflow_bench
// usage: cityflow_bench CONFIG.json [STEPS (3600)] [THREADS (1)]
#include "engine/engine.h"
#include <chrono>
#include <cstdio>
#include <cstdlib>
int main(int argc, char **argv) {
    if (argc < 2) { std::fprintf(stderr, "usage: %s config.json [steps] [threads]\n", argv[0]); return 2; }
    int steps = argc > 2 ? std::atoi(argv[2]) : 3600;
    int threads = argc > 3 ? std::atoi(argv[3]) : 1;
    auto t0 = std::chrono::steady_clock::now();
    CityFlow::Engine engine(argv[1], threads);
    auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) engine.nextStep();
    auto t2 = std::chrono::steady_clock::now();
    double load = std::chrono::duration<double>(t1 - t0).count();
    double run = std::chrono::duration<double>(t2 - t1).count();
    std::printf("{\"steps\":%d,\"threads\":%d,\"load_s\":%.4f,\"run_s\":%.4f,\"avg_travel_time\":%.4f,\"active\":%zu}\n",
                steps, threads, load, run, engine.getAverageTravelTime(), engine.getVehicleCount());
    std::fflush(stdout);
    // DEVIATION: skip ~Engine(); upstream's shutdown (finished=true + 6 barrier rounds) races with the
    // worker's while(!finished) check and can deadlock. Exit like a Python process would, without teardown.
    std::_Exit(0);
}
