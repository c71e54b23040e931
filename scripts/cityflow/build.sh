#!/usr/bin/env bash
# Build the CityFlow comparison drivers (diagnostic; not used by the tests or CI).
#   scripts/cityflow/build.sh CITYFLOW_SRC [OUT_DIR]
# CITYFLOW_SRC: a checkout of github.com/cityflow-project/CityFlow (its src/ and extern/).
# Writes OUT_DIR/cityflow_bench (bench.cpp) and OUT_DIR/cityflow_control (control.cpp);
# OUT_DIR defaults to target/cityflow. Plain g++ -O2, no CMake, no Python bindings.
set -euo pipefail
src=${1:?usage: $0 CITYFLOW_SRC [OUT_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
out=${2:-$here/../../target/cityflow}
mkdir -p "$out"
inc=(-I"$src/src" -I"$src/extern" -I"$src/extern/compat" -I"$src/extern/milo")
lib=("$src"/src/*/*.cpp)
g++ -O2 -std=c++14 "${inc[@]}" "$here/bench.cpp" "${lib[@]}" -lpthread -o "$out/cityflow_bench"
g++ -O2 -std=c++14 "${inc[@]}" "$here/control.cpp" "${lib[@]}" -lpthread -o "$out/cityflow_control"
echo "built $out/cityflow_bench and $out/cityflow_control"
