// quasi-bench-spec built without lwIP (no liblwip-dev, or -DQUASI_BENCH_LWIP=OFF):
// the lwIP row reads "not built".
#include "bench/lwip_baseline.hpp"

namespace quasi::bench {

bool lwip_baseline_built() {
    return false;
}
const char* lwip_baseline_name() {
    return "lwIP (not built)";
}
const char* lwip_baseline_config() {
    return "";
}
bool lwip_baseline_init() {
    return false;
}
ssize_t lwip_baseline_send(const uint8_t*, size_t) {
    return -1;
}
uint64_t lwip_baseline_frames() {
    return 0;
}

}  // namespace quasi::bench
