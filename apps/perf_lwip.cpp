// quasi-perf --baseline lwip: two lwIP netifs joined in memory (see perf_lwip.hpp).
#include "apps/perf_lwip.hpp"

#include "bench/lwip_baseline.hpp"

#include "lwip/etharp.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "netif/ethernet.h"

#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <vector>

namespace quasi::perf {
namespace {

constexpr size_t kBurst = 32;
constexpr int kMaxIdlePolls = 10000;  // as perf_mem.cpp: a message not delivered by then is lost
constexpr uint16_t kPortA = 5001;
constexpr uint16_t kPortB = 5002;

// One side of the in-memory wire: its netif and the frames sent to it, not yet input.
struct Side {
    netif nif{};
    std::array<uint8_t, 6> mac{};
    ip4_addr_t addr{};
    std::deque<pbuf*> inbox;
};

struct Wire {
    Side a, b;
    bool ready = false;
};
Wire& wire() {
    static Wire w;
    return w;
}

// The frame is copied, as a driver copies into its ring: lwIP frees or keeps its own
// pbuf (a TCP segment stays queued for retransmission) when this returns.
err_t link_output(netif* n, pbuf* p) {
    Wire& w = wire();
    Side& to = n == &w.a.nif ? w.b : w.a;
    pbuf* copy = pbuf_alloc(PBUF_RAW, p->tot_len, PBUF_RAM);
    if (!copy) return ERR_MEM;
    pbuf_copy(copy, p);
    to.inbox.push_back(copy);
    return ERR_OK;
}

err_t init_netif(netif* n) {
    const Side* side = static_cast<const Side*>(n->state);
    n->name[0] = 'm';
    n->name[1] = side == &wire().a ? 'a' : 'b';
    n->mtu = 1500;
    n->hwaddr_len = ETH_HWADDR_LEN;
    std::memcpy(n->hwaddr, side->mac.data(), side->mac.size());
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    n->output = etharp_output;
    n->linkoutput = link_output;
    return ERR_OK;
}

bool add_side(Side& s, uint8_t last_octet) {
    s.mac = {0x02, 0, 0, 0, 0, last_octet};
    IP4_ADDR(&s.addr, 198, 18, 0, last_octet);
    ip4_addr_t mask, gw;
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 0, 0, 0, 0);
    if (!netif_add(&s.nif, &s.addr, &mask, &gw, &s, init_netif, ethernet_input)) return false;
    netif_set_up(&s.nif);
    netif_set_link_up(&s.nif);
    return true;
}

bool set_up() {
    Wire& w = wire();
    static bool tried = false;
    if (tried) return w.ready;
    tried = true;
    bench::lwip_init_once();
    w.ready = add_side(w.a, 1) && add_side(w.b, 2);
    return w.ready;
}

// Inputs every frame on the wire (both ways, including what the input makes either side
// send) and runs lwIP's due timers.
void poll_wire() {
    Wire& w = wire();
    for (Side* s : {&w.a, &w.b}) {
        while (!s->inbox.empty()) {
            pbuf* frame = s->inbox.front();
            s->inbox.pop_front();
            if (s->nif.input(frame, &s->nif) != ERR_OK) pbuf_free(frame);
        }
    }
    sys_check_timeouts();
}

template <class Ready>
bool poll_until(Ready ready) {
    for (int i = 0; i < kMaxIdlePolls; ++i) {
        if (ready()) return true;
        poll_wire();
    }
    return false;
}

// ---- UDP_STREAM -----------------------------------------------------------------------

void on_datagram(void* arg, udp_pcb*, pbuf* p, const ip_addr_t*, u16_t) {
    Counters& c = *static_cast<Counters*>(arg);
    ++c.msgs_received;
    c.bytes_received += p->tot_len;
    pbuf_free(p);
}

// As lwip_send on a UDP socket with LWIP_CHECKSUM_ON_COPY (bench/lwip_baseline.cpp).
bool send_datagram(udp_pcb* pcb, const ip_addr_t* to, const std::vector<uint8_t>& payload) {
    u16_t len = static_cast<u16_t>(payload.size());
    pbuf* p = pbuf_alloc(PBUF_TRANSPORT, len, PBUF_RAM);
    if (!p) return false;
    u16_t sum = LWIP_CHKSUM_COPY(p->payload, payload.data(), len);
    err_t rc = udp_sendto_chksum(pcb, p, to, kPortB, 1, sum);
    pbuf_free(p);
    return rc == ERR_OK;
}

RunResult run_udp_stream(const RunSpec& spec, const Progress& progress) {
    Wire& w = wire();
    RunResult r;
    Counters c;
    udp_pcb* tx = udp_new();
    udp_pcb* rx = udp_new();
    ip_addr_t to;
    ip_addr_copy_from_ip4(to, w.b.addr);
    std::vector<uint8_t> payload(spec.size, 0x5A);
    if (!tx || !rx) {
        r.error = "lwIP: udp_new failed";
    } else {
        udp_bind_netif(tx, &w.a.nif);
        udp_bind_netif(rx, &w.b.nif);
        ip_addr_t a, b;
        ip_addr_copy_from_ip4(a, w.a.addr);
        ip_addr_copy_from_ip4(b, w.b.addr);
        udp_bind(tx, &a, kPortA);
        udp_bind(rx, &b, kPortB);
        udp_recv(rx, on_datagram, &c);
        // ARP first, untimed: lwIP keeps one packet while it resolves.
        if (!send_datagram(tx, &to, payload) || !poll_until([&] { return c.msgs_received == 1; })) {
            r.error = "lwIP: the first datagram did not arrive (ARP)";
        } else {
            c = Counters{};
            auto step = [&] {
                for (size_t i = 0; i < kBurst; ++i) {
                    if (!send_datagram(tx, &to, payload)) break;
                    ++c.msgs_sent;
                    c.bytes_sent += spec.size;
                }
                poll_wire();
                return true;
            };
            measure(spec, progress, r, step, [&] { return c; });
            poll_until([&] { return c.msgs_received >= c.msgs_sent; });
            r.total = c;
        }
    }
    if (tx) udp_remove(tx);
    if (rx) udp_remove(rx);
    return r;
}

// ---- TCP ------------------------------------------------------------------------------

// One end of a TCP connection: what arrived (counted, consumed at once, the window
// opened again as an application reading it would).
struct TcpEnd {
    tcp_pcb* pcb = nullptr;
    bool connected = false;
    uint64_t bytes = 0, segments = 0;
};

err_t on_receive(void* arg, tcp_pcb* pcb, pbuf* p, err_t) {
    if (!p) return ERR_OK;  // the peer's FIN: not used
    TcpEnd& end = *static_cast<TcpEnd*>(arg);
    end.bytes += p->tot_len;
    ++end.segments;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

err_t on_accept(void* arg, tcp_pcb* pcb, err_t err) {
    if (err != ERR_OK || !pcb) return ERR_VAL;
    TcpEnd& end = *static_cast<TcpEnd*>(arg);
    end.pcb = pcb;
    end.connected = true;
    tcp_arg(pcb, &end);
    tcp_recv(pcb, on_receive);
    return ERR_OK;
}

err_t on_connected(void* arg, tcp_pcb*, err_t) {
    static_cast<TcpEnd*>(arg)->connected = true;
    return ERR_OK;
}

// A connection from side A to side B; both ends aborted (freed at once) on destruction
// so the next run can bind the port again.
struct Connection {
    TcpEnd client, server;
    tcp_pcb* listener = nullptr;

    bool open(bool nodelay, std::string& error) {
        Wire& w = wire();
        ip_addr_t a, b;
        ip_addr_copy_from_ip4(a, w.a.addr);
        ip_addr_copy_from_ip4(b, w.b.addr);
        tcp_pcb* l = tcp_new();
        if (!l) return error = "lwIP: tcp_new failed", false;
        tcp_bind_netif(l, &w.b.nif);
        if (tcp_bind(l, &b, kPortB) != ERR_OK || !(listener = tcp_listen(l))) {
            tcp_abort(l);
            return error = "lwIP: cannot listen", false;
        }
        tcp_arg(listener, &server);
        tcp_accept(listener, on_accept);
        client.pcb = tcp_new();
        if (!client.pcb) return error = "lwIP: tcp_new failed", false;
        tcp_bind_netif(client.pcb, &w.a.nif);
        tcp_arg(client.pcb, &client);
        tcp_recv(client.pcb, on_receive);
        if (tcp_bind(client.pcb, &a, 0) != ERR_OK || tcp_connect(client.pcb, &b, kPortB, on_connected) != ERR_OK ||
            !poll_until([&] { return client.connected && server.connected; }))
            return error = "lwIP: the TCP connection did not establish", false;
        if (nodelay) {
            tcp_nagle_disable(client.pcb);
            tcp_nagle_disable(server.pcb);
        }
        return true;
    }
    ~Connection() {
        for (TcpEnd* e : {&client, &server})
            if (e->pcb) tcp_abort(e->pcb);
        if (listener) tcp_close(listener);
        // What is still on the wire (the RSTs, segments in flight) has no pcb left to
        // reach: lwIP would answer with a RST routed by address alone, which in one lwIP
        // instance holding both addresses loops back through the tcpip thread it lacks.
        Wire& w = wire();
        for (Side* side : {&w.a, &w.b}) {
            for (pbuf* frame : side->inbox) pbuf_free(frame);
            side->inbox.clear();
        }
    }
};

// tcp_write copies into the send buffer (as lwip_send); false when it is full.
bool tcp_send(tcp_pcb* pcb, const std::vector<uint8_t>& payload) {
    return tcp_write(pcb, payload.data(), static_cast<u16_t>(payload.size()), TCP_WRITE_FLAG_COPY) == ERR_OK;
}

// Sends one message from `from` and waits until `to` has it all.
bool exchange(TcpEnd& from, TcpEnd& to, const std::vector<uint8_t>& payload, Counters& c) {
    uint64_t expect = to.bytes + payload.size();
    if (!poll_until([&] { return tcp_send(from.pcb, payload); })) return false;
    tcp_output(from.pcb);
    ++c.msgs_sent, c.bytes_sent += payload.size();
    if (!poll_until([&] { return to.bytes >= expect; })) return false;
    ++c.msgs_received, c.bytes_received += payload.size();
    return true;
}

// TCP_STREAM: bursts of sends, the receiver counts; TCP_RR: one message each way per
// transaction, Nagle off.
RunResult run_tcp(const RunSpec& spec, const Progress& progress) {
    RunResult r;
    bool rr = spec.test == Test::tcp_rr;
    Connection conn;
    if (!conn.open(rr, r.error)) return r;
    std::vector<uint8_t> payload(spec.size, 0x5A);
    Counters c;
    if (rr) {
        auto step = [&] {
            return timed_transaction(r, c, [&] {
                if (exchange(conn.client, conn.server, payload, c) && exchange(conn.server, conn.client, payload, c))
                    return true;
                r.error = "lwIP: a request or response was not delivered";
                return false;
            });
        };
        measure(spec, progress, r, step, [&] { return c; });
        r.total = c;
        return r;
    }
    auto read = [&] {
        c.bytes_received = conn.server.bytes;
        c.msgs_received = conn.server.segments;
        return c;
    };
    auto step = [&] {
        for (size_t i = 0; i < kBurst && tcp_send(conn.client.pcb, payload); ++i) {
            ++c.msgs_sent;
            c.bytes_sent += spec.size;
        }
        tcp_output(conn.client.pcb);
        poll_wire();
        return true;
    };
    measure(spec, progress, r, step, read);
    // The tail Nagle holds back leaves when the delayed ACK's timer (lwIP's fast timer,
    // 250 ms) fires: drain bounded in time, not in rounds.
    auto drain_end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (read().bytes_received < c.bytes_sent && std::chrono::steady_clock::now() < drain_end) {
        tcp_output(conn.client.pcb);
        poll_wire();
    }
    r.total = read();
    return r;
}

}  // namespace

bool lwip_built() {
    return true;
}

bool lwip_runs(Test t) {
    return t == Test::udp_stream || t == Test::tcp_stream || t == Test::tcp_rr;
}

RunResult run_lwip(const RunSpec& spec, const Progress& progress) {
    RunResult r;
    if (!lwip_runs(spec.test)) {
        r.error = std::string("lwIP runs UDP_STREAM, TCP_STREAM and TCP_RR, not ") + test_name(spec.test);
        return r;
    }
    if (spec.size > (spec.test == Test::udp_stream ? 1472u : 65535u)) {
        r.error = "lwIP: a message of this size does not fit (UDP: one frame; TCP: one tcp_write)";
        return r;
    }
    if (!set_up()) {
        r.error = "lwIP: the netifs could not be set up";
        return r;
    }
    return spec.test == Test::udp_stream ? run_udp_stream(spec, progress) : run_tcp(spec, progress);
}

}  // namespace quasi::perf
