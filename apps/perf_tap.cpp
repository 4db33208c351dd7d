#include "apps/perf_tap.hpp"

#include "apps/app_common.hpp"
#include "apps/app_dpdk.hpp"
#include "apps/perf_kernel.hpp"
#include "apps/perf_quasi_end.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

namespace quasi::perf {
namespace {

// kernel_far_end's addresses: it listens (and receives UDP) at 198.18.0.2:5002 and
// answers UDP_RR at 198.18.0.1:5002, so quasi takes .1 and the kernel's side of the tap .2.
constexpr Ipv4Addr kQuasiAddr = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kKernelAddr = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr uint8_t kPrefixLen = 24;
constexpr uint16_t kPort = 5002;
constexpr uint16_t kDiscardPort = 9;  // RFC 863; nothing listens there in the namespace
constexpr const char* kTapName = "qperf0";
constexpr size_t kBurst = 32;

using SteadyTime = std::chrono::steady_clock;
// A handshake, a message or a reply that does not get through within this is lost: the
// run fails (the kernel's end gives up on a silent peer after 5 s, kernel_far_end).
constexpr auto kReplyTimeout = std::chrono::seconds(2);
// How long the kernel's end may take to finish after the window; beyond its own timeouts.
constexpr auto kFarEndTimeout = std::chrono::seconds(10);

bool passed(SteadyTime::time_point deadline) {
    return SteadyTime::now() >= deadline;
}

// Runs `work` on a thread that joined namespace ns (the calling thread stays in its own).
template <class Work>
bool in_namespace(int ns, std::string& error, Work work) {
    bool ok = false;
    std::thread([&] {
        if (setns(ns, CLONE_NEWNET) != 0)
            error = std::string("setns: ") + std::strerror(errno);
        else
            ok = work();
    }).join();
    return ok;
}

// /proc/sys/net resolves to the namespace of the thread that opens it.
bool write_sysctl(const char* path, const char* value) {
    std::ofstream out(path);
    return out && (out << value) && out.flush();
}

// The kernel's side of tap `name`, in the calling thread's namespace: 198.18.0.2/24, up,
// then running. Attaching turned the carrier on, but the kernel applies that in its
// rate-limited link-watch work and drops what it would send on the tap until then.
bool configure_kernel_side(const char* name, std::string& error) {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return error = std::string("socket: ") + std::strerror(errno), false;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    auto set_address = [&](unsigned long request, uint32_t value) {
        auto* a = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(value);
        return ioctl(s, request, &ifr) == 0;
    };
    bool ok = set_address(SIOCSIFADDR, kKernelAddr.value) &&
              set_address(SIOCSIFNETMASK, ~uint32_t{0} << (32 - kPrefixLen)) && ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    if (ok) {
        ifr.ifr_flags = short(ifr.ifr_flags | IFF_UP);
        ok = ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    }
    if (!ok) error = std::string("configuring the tap: ") + std::strerror(errno);
    for (int i = 0; ok && i < 500; ++i) {  // at most 5 s
        if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_RUNNING)) break;
        if (i == 499) ok = false, error = "the tap's kernel side did not come up within 5 s";
        usleep(10000);
    }
    ::close(s);
    return ok;
}

// One run's quasi stack on the tap (or the DPDK port), polled on this thread.
struct QuasiOnTap {
    Stack stack;
    int wait_fd;  // the tap's descriptor; -1: a DPDK port, busy-polled

    QuasiOnTap(Netif& device, int fd, BufferPool& pool, const Clock& clock)
        : stack(config(), clock, &pool), wait_fd(fd) {
        stack.add_interface(device, kQuasiAddr, kPrefixLen);
    }
    static Stack::Config config() {
        Stack::Config c;
        c.seed = app::random_seed();
        return c;
    }
    // One pass of the stack; when the caller made no progress (`idle`) and the stack had
    // nothing either, sleeps until a frame arrives, at most 1 ms (its timers' due times
    // are not finer than that here).
    void poll(bool idle) {
        if (stack.poll() == 0 && idle && wait_fd >= 0) {
            pollfd p{wait_fd, POLLIN, 0};
            ::poll(&p, 1, 1);
        }
    }
    // Polls until `ready` holds; false when `timeout` passes first.
    template <class Ready>
    bool poll_until(Ready ready, SteadyTime::duration timeout = kReplyTimeout) {
        auto deadline = SteadyTime::now() + timeout;
        while (!ready()) {
            if (passed(deadline)) return false;
            poll(true);
        }
        return true;
    }
    bool connected_tcp(int fd) {
        if (fd < 0 || connect(stack, fd, SockAddr{kKernelAddr, kPort}) != -EINPROGRESS) return false;
        PollFd p{fd, events::out, 0};
        return poll_until([&] { return quasi::poll(stack, &p, 1) > 0; }) && !(p.revents & (events::err | events::hup));
    }
    // UDP: bound to 198.18.0.1:5002 and connected to the kernel's end, with the kernel's
    // MAC resolved first (a specialized handle freezes it) by a datagram to the discard
    // port from another socket, which the kernel's end does not count. TCP: connected.
    int open(bool tcp, std::string& error) {
        int fd = socket(stack, kAfInet, tcp ? kSockStream : kSockDgram);
        if (tcp) {
            if (connected_tcp(fd)) return fd;
            error = "quasi's TCP connection to the kernel did not establish over the tap";
        } else {
            int probe = socket(stack, kAfInet, kSockDgram);
            uint8_t byte = 0;
            MacAddr mac;
            bool ok = bind(stack, fd, SockAddr{kQuasiAddr, kPort}) == 0 &&
                      connect(stack, fd, SockAddr{kKernelAddr, kPort}) == 0 &&
                      connect(stack, probe, SockAddr{kKernelAddr, kDiscardPort}) == 0 &&
                      send(stack, probe, &byte, 1) == 1 &&
                      poll_until([&] { return stack.interface(0)->arp().lookup(kKernelAddr, mac); });
            close(stack, probe);
            if (ok) return fd;
            error = "quasi's UDP socket did not reach the kernel over the tap (ARP)";
        }
        if (fd >= 0) close(stack, fd);
        return -1;
    }
    // All of `payload` through s; false when the stack does not take it in time.
    bool send_message(Sender& s, const std::vector<uint8_t>& payload, Counters& c) {
        size_t off = 0, size = payload.size();
        bool ok = poll_until([&] {
            ssize_t n = s.send(payload.data() + off, size - off);
            if (n > 0) off += size_t(n);
            return off == size;
        });
        if (ok) ++c.msgs_sent, c.bytes_sent += size;
        return ok;
    }
    // Exactly `size` bytes (TCP) or one datagram (UDP) from fd; false on EOF, error or timeout.
    bool receive_message(int fd, bool tcp, size_t size, std::vector<uint8_t>& buf, Counters& c) {
        size_t got = 0;
        ssize_t n = -EAGAIN;
        bool ok = poll_until([&] {
            while ((n = recv(stack, fd, buf.data(), tcp ? size - got : buf.size())) > 0) {
                got += size_t(n);
                c.bytes_received += uint64_t(n);
                if (!tcp || got == size) return true;
            }
            return n != -EAGAIN;  // EOF or an error: no message
        });
        if (!ok || n <= 0) return false;
        ++c.msgs_received;
        return true;
    }
};

// STREAM: quasi sends, the kernel counts. MAERTS: the kernel sends, quasi counts.
void near_stream(QuasiOnTap& q, const RunSpec& spec, const Progress& progress, FarCounts& far, RunResult& r) {
    bool tcp = is_tcp(spec.test);
    int fd = q.open(tcp, r.error);
    if (fd < 0) return;
    std::vector<uint8_t> payload(spec.size, 0x5A), buf(256 * 1024);
    Counters c;
    auto read = [&] { return with_far(c, far); };
    Sender sender;
    if (spec.test == Test::tcp_maerts) {
        auto step = [&] {
            uint64_t before = c.bytes_received;
            receive_all(q.stack, fd, buf, c);
            q.poll(c.bytes_received == before);
            return true;
        };
        measure(spec, progress, r, step, read);
        // What the kernel sent before it saw the stop, up to its EOF.
        far.stop = true;
        q.poll_until(
            [&] {
                ssize_t n;
                while ((n = recv(q.stack, fd, buf.data(), buf.size())) > 0) ++c.msgs_received, c.bytes_received += uint64_t(n);
                return n != -EAGAIN;
            },
            kFarEndTimeout);
    } else if (sender.init(q.stack, fd, spec.path, spec.size, tcp, r.error)) {
        auto step = [&] {
            size_t sent = 0;
            for (; sent < kBurst; ++sent) {
                ssize_t n = sender.send(payload.data(), spec.size);
                if (n <= 0) break;  // TCP: the send buffer is full until the kernel acknowledges
                ++c.msgs_sent;
                c.bytes_sent += uint64_t(n);
            }
            q.poll(sent == 0);
            return true;
        };
        measure(spec, progress, r, step, read);
        sender.add_counts(r);
    }
    // TCP: the kernel's end counts up to this EOF; UDP: until 0.3 s of silence after the stop.
    if (tcp) shutdown(q.stack, fd, kShutWr);
    far.stop = true;
    r.total = c;
}

void near_rr(QuasiOnTap& q, const RunSpec& spec, const Progress& progress, FarCounts& far, RunResult& r) {
    bool tcp = is_tcp(spec.test);
    int fd = q.open(tcp, r.error);
    if (fd < 0) return;
    Sender client;
    std::vector<uint8_t> payload(spec.size, 0x5A), buf(std::max<size_t>(spec.size, 2048));
    Counters c;
    if (client.init(q.stack, fd, spec.path, spec.size, tcp, r.error)) {
        auto step = [&] {
            return timed_transaction(r, c, [&] {
                if (q.send_message(client, payload, c) && q.receive_message(fd, tcp, spec.size, buf, c)) return true;
                r.error = "a request or its response did not get through within 2 s";
                return false;
            });
        };
        measure(spec, progress, r, step, [&] { return with_far(c, far); });
        client.add_counts(r);
    }
    if (tcp) shutdown(q.stack, fd, kShutWr);  // the kernel's end answers until this EOF
    far.stop = true;
    r.total = c;
}

// TCP_CRR, as netperf's: per transaction quasi connects, sends the request, reads the
// response and closes first (TIME-WAIT stays with quasi); the kernel reads the FIN and closes.
void near_crr(QuasiOnTap& q, const RunSpec& spec, const Progress& progress, FarCounts& far, RunResult& r) {
    std::vector<uint8_t> payload(spec.size, 0x5A), buf(std::max<size_t>(spec.size, 2048));
    Counters c;
    auto exchange = [&] {
        Sender s;
        s.stack = &q.stack;
        s.fd = socket(q.stack, kAfInet, kSockStream);
        bool ok = q.connected_tcp(s.fd) && q.send_message(s, payload, c) &&
                  q.receive_message(s.fd, true, spec.size, buf, c);
        if (s.fd >= 0) close(q.stack, s.fd);
        if (!ok) r.error = "a connection, request or response did not get through within 2 s";
        return ok;
    };
    measure(spec, progress, r, [&] { return timed_transaction(r, c, exchange); }, [&] { return with_far(c, far); });
    far.stop = true;
    r.total = c;
}

}  // namespace

std::unique_ptr<TapPeer> TapPeer::create(std::string& error) {
    if (geteuid() != 0) {
        error = "needs root (it creates a network namespace and a tap device in it); run it with sudo, or use --link mem";
        return nullptr;
    }
    std::unique_ptr<TapPeer> t(new TapPeer);
    if (!t->open_namespace(error) || !t->set_up(error)) return nullptr;
    return t;
}

std::unique_ptr<TapPeer> TapPeer::create_af_packet(const std::vector<std::string>& eal_args, std::string& error) {
    if (geteuid() != 0) {
        error = "needs root (it creates a network namespace and a veth pair in it); run it with sudo";
        return nullptr;
    }
    std::unique_ptr<TapPeer> t(new TapPeer);
    if (!t->open_namespace(error) || !t->set_up_af_packet(eal_args, error)) return nullptr;
    return t;
}

// A namespace of our own, without IPv6 (the kernel would send router solicitations and
// MLD reports to quasi).
bool TapPeer::open_namespace(std::string& error) {
    ns_ = new_namespace(error);
    if (ns_ < 0) return false;
    char link[64] = {};
    std::string self = "/proc/self/fd/" + std::to_string(ns_);
    if (readlink(self.c_str(), link, sizeof link - 1) > 0) netns_id_ = link;
    return in_namespace(ns_, error, [] {
        write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
        write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
        return true;
    });
}

bool TapPeer::set_up(std::string& error) {
    own_pool_ = std::make_unique<BufferPool>(BufferPool::Config{.count = 4096});
    pool_ = own_pool_.get();
    // The tap is created in the namespace of the thread that opens /dev/net/tun.
    return in_namespace(ns_, error, [&] {
        int err = 0;
        TapNetif::Config config;
        config.mode = TapNetif::Mode::create_only;
        tap_ = TapNetif::open(kTapName, *pool_, config, &err);
        if (!tap_) {
            error = std::string("cannot create the tap: ") + std::strerror(err) + " (" + TapNetif::open_error_hint(err) + ")";
            return false;
        }
        device_ = tap_.get();
        return configure_kernel_side(kTapName, error);
    });
}

bool TapPeer::set_up_af_packet(const std::vector<std::string>& eal_args, std::string& error) {
    // Commands run from a thread inside the namespace (a child takes its thread's).
    auto run = [&](const std::string& command) {
        if (std::system(("timeout 10 " + command + " >/dev/null 2>&1").c_str()) == 0) return true;
        error = "failed: " + command;
        return false;
    };
    return in_namespace(ns_, error, [&] {
        // The kernel's end sends finished frames: the PMD's ring frames (2 KiB) would
        // truncate a GSO frame, and nothing completes a partial checksum after it.
        bool ok = run(std::string("ip link add ") + kTapName + " type veth peer name " + kTapName + "q") &&
                  run(std::string("ethtool -K ") + kTapName + " tx off tso off gso off") &&
                  run(std::string("ethtool -K ") + kTapName + "q gro off") &&
                  run(std::string("ip link set ") + kTapName + "q up") && configure_kernel_side(kTapName, error);
        if (!ok) return false;
        app::DpdkLinkConfig config;
        config.eal_args = eal_args;
        config.eal_args.push_back(std::string("--vdev=net_af_packet0,iface=") + kTapName + "q");
        dpdk_ = app::open_dpdk_link("quasi-perf", config, &error);
        if (!dpdk_) return false;
        pool_ = &dpdk_->pool(0);
        device_ = &dpdk_->netif(0);
        return true;
    });
}

TapPeer::~TapPeer() {
    tap_.reset();  // the tap goes with its descriptor (not persistent)...
    if (dpdk_) {
        dpdk_->finish(stderr);  // the port's counters; mbufs still out (none)
        dpdk_.reset();
    }
    if (ns_ >= 0) ::close(ns_);  // ...and the namespace (and its veth pair) with its last reference
}

RunResult TapPeer::run(const RunSpec& spec, const Progress& progress) {
    RunResult r;
    r.lossy_link = true;
    FarCounts far;
    std::thread far_thread([&] { kernel_far_end(ns_, spec, far); });
    far.wait_ready();
    {
        QuasiOnTap q(*device_, tap_ ? tap_->fd() : -1, *pool_, clock_);
        if (far.failed)
            r.error = "the kernel's end did not start in the namespace";
        else if (spec.test == Test::tcp_crr)
            near_crr(q, spec, progress, far, r);
        else if (is_rr(spec.test))
            near_rr(q, spec, progress, far, r);
        else
            near_stream(q, spec, progress, far, r);
        far.stop = true;
        // The kernel's end finishes on quasi's EOF, its stop or its timeouts; quasi keeps
        // answering (ACKs, FINs) until then.
        auto deadline = SteadyTime::now() + kFarEndTimeout;
        while (!far.done && !passed(deadline)) q.poll(true);
    }
    far_thread.join();
    // Frames the kernel sent to this run's stack would reach the next one's: drop them.
    std::array<PacketPtr, kBurst> burst;
    while (device_->rx_burst(burst) > 0)
        for (PacketPtr& p : burst) p.reset();
    r.total = with_far(r.total, far);
    return r;
}

}  // namespace quasi::perf
