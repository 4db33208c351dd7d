#include "guards/verify.hpp"

namespace quasi {

// Each field compared by name, so a report says which one moved.
#define QUASI_SAME(field) \
    if (!(frozen.field == live.field)) return #field

const char* first_difference(const FrozenUdpContext& frozen, const FrozenUdpContext& live) {
    QUASI_SAME(src_mac);
    QUASI_SAME(dst_mac);
    QUASI_SAME(src);
    QUASI_SAME(dst);
    QUASI_SAME(src_port);
    QUASI_SAME(dst_port);
    QUASI_SAME(ttl);
    QUASI_SAME(tos);
    QUASI_SAME(dont_fragment);
    QUASI_SAME(checksum);
    QUASI_SAME(max_payload);
    QUASI_SAME(message_size);
    QUASI_SAME(pool);
    QUASI_SAME(iface);
    QUASI_SAME(ident_counter);
    QUASI_SAME(stats);
    QUASI_SAME(pending_error);
    return nullptr;
}

const char* first_difference(const FrozenTcpContext& frozen, const FrozenTcpContext& live) {
    QUASI_SAME(src_mac);
    QUASI_SAME(dst_mac);
    QUASI_SAME(src);
    QUASI_SAME(dst);
    QUASI_SAME(next_hop);
    QUASI_SAME(src_port);
    QUASI_SAME(dst_port);
    QUASI_SAME(ttl);
    QUASI_SAME(tos);
    QUASI_SAME(timestamps);
    QUASI_SAME(sack);
    QUASI_SAME(rcv_wscale);
    QUASI_SAME(nodelay);
    QUASI_SAME(snd_mss);
    QUASI_SAME(payload_mss);
    QUASI_SAME(message_size);
    QUASI_SAME(fd);
    QUASI_SAME(socket);
    QUASI_SAME(layer);
    QUASI_SAME(pool);
    QUASI_SAME(iface);
    QUASI_SAME(ident_counter);
    QUASI_SAME(stats);
    return nullptr;
}

#undef QUASI_SAME

}  // namespace quasi
