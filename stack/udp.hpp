// UDP (RFC 768, RFC 1122 4.1): sockets, demultiplexing and both directions.
//
// The send path is written once, as udp_send<Ctx> in udp_send.hpp, over a context
// policy: the live context here reads the socket, route and neighbour on every call;
// a frozen context (context/) holds them as constants for the specializer.
#pragma once

#include "guards/quasi_invariant.hpp"
#include "stack/buffer.hpp"
#include "stack/route.hpp"
#include "stack/wire/bytes.hpp"
#include "stack/wire/ipv4.hpp"

#include <boost/intrusive/unordered_set.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <sys/types.h>

namespace quasi {

class Stack;
class Interface;

struct SockAddr {
    Ipv4Addr addr;
    uint16_t port = 0;
    friend bool operator==(const SockAddr&, const SockAddr&) = default;
};

// Readiness, as poll(2) names it.
namespace events {
constexpr uint16_t in = 0x001;
constexpr uint16_t out = 0x004;
constexpr uint16_t err = 0x008;
constexpr uint16_t hup = 0x010;
}  // namespace events

using ReadyCallback = void (*)(int fd, uint16_t events, void* user);

struct UdpSocket : boost::intrusive::unordered_set_base_hook<> {
    // Fields a specialized send handle may freeze are quasi-invariants.
    QuasiInvariant<Ipv4Addr> local_addr;
    QuasiInvariant<uint16_t> local_port;
    QuasiInvariant<Ipv4Addr> remote_addr;
    QuasiInvariant<uint16_t> remote_port;  // non-zero once connected
    QuasiInvariant<uint8_t> ttl{64};
    QuasiInvariant<uint8_t> tos{0};
    QuasiInvariant<bool> checksum_enabled{true};  // SO_NO_CHECK clears it (RFC 768 allows 0)
    QuasiInvariant<bool> broadcast_allowed{false};  // SO_BROADCAST
    QuasiInvariant<bool> dont_fragment{false};      // IP_MTU_DISCOVER = IP_PMTUDISC_DO

    int fd = -1;
    bool in_use = false;
    PacketQueue receive_queue;  // datagrams; data starts at the UDP header, meta = source address
    size_t receive_bytes = 0;   // true size of the queued buffers
    size_t receive_limit = 0;   // SO_RCVBUF
    int pending_error = 0;      // an ICMP-reported error, returned once by the next call
    DstEntry route_cache;       // the live send path's route to the last destination
    ReadyCallback callback = nullptr;
    void* callback_user = nullptr;

    bool connected() const { return remote_port != 0; }
    bool bound() const { return local_port != 0; }
};

// Hashing and equality by local port, for the demultiplexing table.
struct UdpPortKey {
    using type = uint16_t;
    type operator()(const UdpSocket& s) const { return s.local_port; }
};

class UdpLayer {
public:
    static constexpr uint16_t kEphemeralFirst = 49152;  // RFC 6335 dynamic range
    static constexpr uint16_t kEphemeralLast = 65535;

    UdpLayer(Stack& stack, size_t max_sockets);
    ~UdpLayer();

    UdpSocket* open();
    void close(UdpSocket& s);
    // 0 or -EADDRINUSE / -EADDRNOTAVAIL / -EINVAL. Port 0 picks an ephemeral port.
    int bind(UdpSocket& s, SockAddr local);
    int connect(UdpSocket& s, SockAddr remote);
    // Sends one datagram: the live send path, with fragmentation when it is larger
    // than the path MTU. Returns bytes sent or -errno.
    ssize_t send_to(UdpSocket& s, const uint8_t* data, size_t len, const SockAddr* dst);
    // Copies the next datagram out (truncating as recvfrom does); bytes or -errno.
    ssize_t receive_from(UdpSocket& s, uint8_t* data, size_t len, SockAddr* from, bool peek);
    uint16_t readiness(const UdpSocket& s) const;

    // Input: `packet` starts at the IPv4 header (header_len bytes) of a whole datagram.
    void input(Interface& iface, const Ipv4Repr& ip, size_t header_len, PacketPtr packet);
    // An ICMP error about a datagram we sent from local to remote (RFC 1122 4.1.3.3).
    void icmp_error(SockAddr local, SockAddr remote, int error);

    UdpSocket* find(uint16_t local_port);
    size_t open_sockets() const { return open_count_; }

private:
    friend struct UdpLiveContext;
    int pick_ephemeral_port(uint16_t& port);
    int send_fragmented(UdpSocket& s, SockAddr src, SockAddr dst, const uint8_t* data, size_t len);
    void notify(UdpSocket& s);

    using PortTable = boost::intrusive::unordered_set<
        UdpSocket, boost::intrusive::key_of_value<UdpPortKey>, boost::intrusive::power_2_buckets<true>>;
    static constexpr size_t kBuckets = 256;

    Stack& stack_;
    size_t max_sockets_;
    std::unique_ptr<UdpSocket[]> sockets_;
    std::unique_ptr<PortTable::bucket_type[]> buckets_;
    PortTable ports_;
    size_t open_count_ = 0;
};

}  // namespace quasi
