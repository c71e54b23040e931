// Minimal driver: build CityFlow::Engine from a config JSON, run N steps single-threaded.
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
