#include "stack/route.hpp"

#include <cerrno>

namespace quasi {

int RouteTable::add(const Route& route) {
    if (route.prefix_len > 32 || (route.prefix.value & ~route.mask()) != 0) return -EINVAL;
    size_t pos = 0;
    for (; pos < count_; ++pos) {
        const Route& r = routes_[pos];
        if (r.prefix == route.prefix && r.prefix_len == route.prefix_len) return -EEXIST;
        if (r.prefix_len < route.prefix_len) break;
    }
    if (count_ == kMaxRoutes) return -ENOSPC;
    for (size_t i = count_; i > pos; --i) routes_[i] = routes_[i - 1];
    routes_[pos] = route;
    ++count_;
    version.guarded_write(version + 1);
    return 0;
}

int RouteTable::remove(Ipv4Addr prefix, uint8_t prefix_len) {
    for (size_t pos = 0; pos < count_; ++pos) {
        if (routes_[pos].prefix != prefix || routes_[pos].prefix_len != prefix_len) continue;
        for (size_t i = pos; i + 1 < count_; ++i) routes_[i] = routes_[i + 1];
        --count_;
        version.guarded_write(version + 1);
        return 0;
    }
    return -ESRCH;
}

const Route* RouteTable::lookup(Ipv4Addr dst) const {
    for (size_t i = 0; i < count_; ++i)
        if (routes_[i].matches(dst)) return &routes_[i];
    return nullptr;
}

}  // namespace quasi
