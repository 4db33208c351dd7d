// quasi-perf built without lwIP (no liblwip-dev, or -DQUASI_BENCH_LWIP=OFF):
// --baseline lwip is refused (quasi_perf.cpp asks lwip_built()).
#include "apps/perf_lwip.hpp"

namespace quasi::perf {

bool lwip_built() {
    return false;
}
bool lwip_runs(Test) {
    return false;
}
RunResult run_lwip(const RunSpec&, const Progress&) {
    RunResult r;
    r.error = "quasi-perf was built without lwIP (liblwip-dev)";
    return r;
}

}  // namespace quasi::perf
