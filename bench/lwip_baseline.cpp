// lwIP's udp_sendto, measured beside quasi's generic path (see lwip_baseline.hpp).
//
// lwIP runs without its tcpip thread: lwip_init() alone, everything called from this
// thread (the Debian port's core-lock check passes while no tcpip thread exists). No
// lwIP timer ever runs, so the ARP entry never ages.
#include "bench/lwip_baseline.hpp"

#include "lwip/etharp.h"
#include "lwip/inet_chksum.h"
#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/udp.h"
#include "netif/ethernet.h"

#include <array>
#include <cstring>

namespace quasi::bench {

namespace {

constexpr std::array<uint8_t, 6> kLocalMac{0x02, 0, 0, 0, 0, 0x0a};
constexpr std::array<uint8_t, 6> kPeerMac{0x02, 0, 0, 0, 0, 0x0b};
constexpr std::array<uint8_t, 4> kLocalIp{198, 18, 0, 1};
constexpr std::array<uint8_t, 4> kPeerIp{198, 18, 0, 2};
constexpr uint16_t kLocalPort = 5000;
constexpr uint16_t kPeerPort = 9;

struct Baseline {
    netif nif{};
    udp_pcb* pcb = nullptr;
    ip_addr_t peer{};
    uint64_t frames = 0;
    size_t last_frame_len = 0;
    bool capture = false;  // keep the next frame's bytes (set-up only, never measured)
    std::array<uint8_t, 128> captured{};
    bool ready = false;
};
Baseline& baseline() {
    static Baseline b;
    return b;
}

// The sink: lwIP keeps ownership of the pbuf (it is freed by whoever allocated it).
err_t drop_frame(netif*, pbuf* p) {
    Baseline& b = baseline();
    ++b.frames;
    b.last_frame_len = p->tot_len;
    if (b.capture) pbuf_copy_partial(p, b.captured.data(), static_cast<u16_t>(b.captured.size()), 0);
    return ERR_OK;
}

// RFC 768/1071: the UDP checksum of an Ethernet + IPv4 (20 bytes) + UDP frame sums,
// with its pseudo-header, to 0xFFFF. Checks that checksum-on-copy gave lwIP a
// correct payload sum.
bool udp_checksum_ok(const uint8_t* frame, size_t frame_len) {
    const uint8_t* ip = frame + 14;
    const uint8_t* udp = ip + 20;
    size_t udp_len = size_t(udp[4]) << 8 | udp[5];
    if (14 + 20 + udp_len > frame_len) return false;
    uint32_t sum = 0;
    auto add = [&sum](const uint8_t* p, size_t n) {
        for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
        if (n % 2) sum += uint32_t(p[n - 1]) << 8;
    };
    add(ip + 12, 8);  // source and destination addresses
    sum += 17 + uint32_t(udp_len);
    add(udp, udp_len);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return sum == 0xFFFF;
}

err_t init_netif(netif* n) {
    n->name[0] = 's';
    n->name[1] = 'k';
    n->mtu = 1500;
    n->hwaddr_len = ETH_HWADDR_LEN;
    std::memcpy(n->hwaddr, kLocalMac.data(), kLocalMac.size());
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    n->output = etharp_output;
    n->linkoutput = drop_frame;
    return ERR_OK;
}

// The peer's ARP reply to us, through ethernet_input: the entry becomes stable, as a
// static entry in quasi's fixture (this lwIP build has no etharp_add_static_entry).
bool resolve_peer(netif& n) {
    std::array<uint8_t, 42> frame{};
    uint8_t* f = frame.data();
    std::memcpy(f, kLocalMac.data(), 6);
    std::memcpy(f + 6, kPeerMac.data(), 6);
    f[12] = 0x08, f[13] = 0x06;                  // EtherType ARP
    f[14] = 0, f[15] = 1;                        // hardware: Ethernet
    f[16] = 0x08, f[17] = 0x00;                  // protocol: IPv4
    f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 2;  // lengths; operation: reply
    std::memcpy(f + 22, kPeerMac.data(), 6);
    std::memcpy(f + 28, kPeerIp.data(), 4);
    std::memcpy(f + 32, kLocalMac.data(), 6);
    std::memcpy(f + 38, kLocalIp.data(), 4);
    pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(frame.size()), PBUF_RAM);
    if (!p) return false;
    std::memcpy(p->payload, frame.data(), frame.size());
    if (n.input(p, &n) != ERR_OK) return false;  // ethernet_input frees p
    ip4_addr_t peer4;
    IP4_ADDR(&peer4, kPeerIp[0], kPeerIp[1], kPeerIp[2], kPeerIp[3]);
    eth_addr* mac = nullptr;
    const ip4_addr_t* ip = nullptr;
    return etharp_find_addr(&n, &peer4, &mac, &ip) >= 0;
}

}  // namespace

bool lwip_baseline_built() {
    return true;
}

const char* lwip_baseline_name() {
    return "lwIP " LWIP_VERSION_STRING;
}

#define QUASI_LWIP_OPT(name) #name "=" QUASI_LWIP_STR(name)
#define QUASI_LWIP_STR(value) #value
const char* lwip_baseline_config() {
    // The options of the build measured (Debian's lwipopts.h), as its headers say.
    return QUASI_LWIP_OPT(NO_SYS) ", " QUASI_LWIP_OPT(MEM_LIBC_MALLOC) ", " QUASI_LWIP_OPT(
        LWIP_IPV6) ", " QUASI_LWIP_OPT(LWIP_TCPIP_CORE_LOCKING) ", " QUASI_LWIP_OPT(LWIP_CHECKSUM_ON_COPY);
}

void lwip_init_once() {
    static bool done = false;
    if (!done) lwip_init();
    done = true;
}

bool lwip_baseline_init() {
    Baseline& b = baseline();
    static bool tried = false;
    if (tried) return b.ready;
    tried = true;
    lwip_init_once();
    ip4_addr_t addr, mask, gw;
    IP4_ADDR(&addr, kLocalIp[0], kLocalIp[1], kLocalIp[2], kLocalIp[3]);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 0, 0, 0, 0);
    if (!netif_add(&b.nif, &addr, &mask, &gw, nullptr, init_netif, ethernet_input)) return false;
    netif_set_default(&b.nif);
    netif_set_up(&b.nif);
    netif_set_link_up(&b.nif);
    if (!resolve_peer(b.nif)) return false;
    b.pcb = udp_new();
    if (!b.pcb || udp_bind(b.pcb, IP4_ADDR_ANY, kLocalPort) != ERR_OK) return false;
    IP_ADDR4(&b.peer, kPeerIp[0], kPeerIp[1], kPeerIp[2], kPeerIp[3]);
    // One datagram must reach the link whole (Ethernet + IPv4 + UDP + 64 B), not wait
    // in an ARP queue.
    std::array<uint8_t, 64> probe{};
    for (size_t i = 0; i < probe.size(); ++i) probe[i] = static_cast<uint8_t>(i * 7 + 1);
    b.frames = 0;
    b.capture = true;
    if (lwip_baseline_send(probe.data(), probe.size()) != 64 || b.frames != 1 || b.last_frame_len != 14 + 20 + 8 + 64)
        return false;
    b.capture = false;
    if (!udp_checksum_ok(b.captured.data(), b.last_frame_len)) return false;
    b.frames = 0;
    b.ready = true;
    return true;
}

// As lwIP's own sockets layer sends (lwip_sendto with LWIP_CHECKSUM_ON_COPY): the
// payload's sum taken while copying it in (LWIP_CHKSUM_COPY), handed to
// udp_sendto_chksum, so udp_sendto sums only the pseudo-header and the UDP header.
ssize_t lwip_baseline_send(const uint8_t* data, size_t len) {
    Baseline& b = baseline();
    pbuf* p = pbuf_alloc(PBUF_TRANSPORT, static_cast<u16_t>(len), PBUF_RAM);
    if (!p) return ERR_MEM;
    u16_t sum = LWIP_CHKSUM_COPY(p->payload, data, static_cast<u16_t>(len));  // PBUF_RAM: one contiguous pbuf
    err_t rc = udp_sendto_chksum(b.pcb, p, &b.peer, kPeerPort, 1, sum);
    pbuf_free(p);
    return rc == ERR_OK ? static_cast<ssize_t>(len) : rc;
}

uint64_t lwip_baseline_frames() {
    return baseline().frames;
}

}  // namespace quasi::bench
