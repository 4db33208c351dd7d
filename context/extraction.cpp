#include "context/extraction.hpp"

#include "stack/stack.hpp"

#include <cerrno>

namespace quasi {

std::string describe(const char* what, Ipv4Addr addr) {
    char buf[16];
    return std::string(what) + " " + format(addr, buf, sizeof buf);
}

Expected<NextHop> route_to(Stack& stack, Ipv4Addr dst) {
    const Route* route = stack.routes().lookup(dst);
    if (!route) return make_error(ENETUNREACH, describe("no route to", dst));
    NextHop hop;
    hop.iface = stack.interface(route->interface);
    hop.addr = route->next_hop(dst);
    return hop;
}

std::optional<Error> resolve_mac(NextHop& hop) {
    if (hop.iface->arp().lookup(hop.addr, hop.mac)) return std::nullopt;
    return make_error(EHOSTUNREACH, describe("no resolved ARP entry for next hop", hop.addr));
}

Expected<NextHop> resolve_next_hop(Stack& stack, Ipv4Addr dst) {
    auto hop = route_to(stack, dst);
    if (!hop) return hop;
    if (auto error = resolve_mac(*hop)) return *error;
    return hop;
}

}  // namespace quasi
