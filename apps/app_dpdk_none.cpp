// --dpdk in a build without libdpdk: a clear error instead of a missing option.
#include "apps/app_dpdk.hpp"

namespace quasi::app {

namespace {
const char kNoDpdk[] =
    "this quasi was built without DPDK (pkg-config found no libdpdk at configure time; "
    "apt-get install libdpdk-dev and reconfigure)";
}

std::unique_ptr<DpdkLink> open_dpdk_link(const char*, const DpdkLinkConfig&, std::string* error) {
    *error = kNoDpdk;
    return nullptr;
}

std::unique_ptr<DpdkRingLink> open_dpdk_ring_link(const char*, const std::vector<std::string>&, std::string* error) {
    *error = kNoDpdk;
    return nullptr;
}

}  // namespace quasi::app
