// --dpdk in a build without libdpdk: a clear error instead of a missing option.
#include "apps/app_dpdk.hpp"

namespace quasi::app {

std::unique_ptr<DpdkLink> open_dpdk_link(const char*, const DpdkLinkConfig&, std::string* error) {
    *error = "this quasi was built without DPDK (pkg-config found no libdpdk at configure time; "
             "apt-get install libdpdk-dev and reconfigure)";
    return nullptr;
}

}  // namespace quasi::app
