#include "apps/perf_kernel.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

namespace quasi::perf {
namespace {

constexpr const char* kAddrA = "198.18.0.1";
constexpr const char* kAddrB = "198.18.0.2";
constexpr uint16_t kPort = 5002;
constexpr size_t kBurst = 32;

// Runs `command` with the calling process's namespace descriptors reachable as
// /proc/PID/fd/N; every command is bounded in time.
bool run_command(const std::string& command, std::string& error) {
    std::string bounded = "timeout 10 " + command + " >/dev/null 2>&1";
    if (std::system(bounded.c_str()) != 0) {
        error = "failed: " + command;
        return false;
    }
    return true;
}

std::string ns_path(int fd) {
    return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd);
}
std::string in_ns(int fd, const std::string& command) {
    return "nsenter --net=" + ns_path(fd) + " " + command;
}

sockaddr_in address(const char* ip, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

// A socket of `type` in namespace ns, bound to ip:port (port 0: any).
int open_socket(int ns, int type, const char* ip, uint16_t port) {
    if (setns(ns, CLONE_NEWNET) != 0) return -1;
    int fd = socket(AF_INET, type, 0);
    int one = 1, big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    timeval timeout{0, 300000};  // a receiver that hears nothing for 0.3 s gives up
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    timeval send_timeout{5, 0};  // a sender whose peer stopped reading gives up (accepted sockets inherit it)
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    sockaddr_in a = address(ip, port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool connect_to(int fd, const char* ip) {
    sockaddr_in a = address(ip, kPort);
    for (int tries = 0; tries < 100; ++tries) {  // the listener may still be starting
        if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return true;
        usleep(10000);
    }
    return false;
}

// Reads exactly len bytes (TCP) or one datagram (UDP); false on EOF, error or timeout.
bool read_message(int fd, bool tcp, uint8_t* buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, buf + got, tcp ? len - got : len, 0);
        if (n <= 0) return false;
        got += size_t(n);
        if (!tcp) return true;
    }
    return true;
}

bool write_message(int fd, const uint8_t* p, size_t len) {
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, p + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += size_t(n);
    }
    return true;
}

// The far end of a run, in namespace B: a stream receiver (or MAERTS sender), or an RR responder.
void far_end(int ns, const RunSpec& spec, FarCounts& far) {
    bool tcp = is_tcp(spec.test);
    int fd = open_socket(ns, tcp ? SOCK_STREAM : SOCK_DGRAM, kAddrB, kPort);
    if (fd < 0 || (tcp && listen(fd, 1) != 0)) {
        far.failed = true;
        if (fd >= 0) close(fd);
        return;
    }
    far.ready = true;
    int conn = fd;
    if (tcp) {
        timeval wait{5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
        conn = accept(fd, nullptr, nullptr);
        if (conn < 0) {
            far.failed = true;
            close(fd);
            return;
        }
        // TCP ends on the client's EOF; the timeout only bounds a client that vanished,
        // long enough that a descheduled client on a loaded machine is not mistaken for one.
        timeval timeout{5, 0};
        setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    }
    std::vector<uint8_t> buf(std::max<size_t>(spec.size, 256 * 1024), 0x5A);
    if (spec.test == Test::tcp_maerts) {
        while (!far.stop && write_message(conn, buf.data(), spec.size)) {
            far.sent_msgs += 1;
            far.sent_bytes += spec.size;
        }
    } else if (is_rr(spec.test)) {
        sockaddr_in peer = address(kAddrA, kPort);
        if (!tcp) connect(conn, reinterpret_cast<sockaddr*>(&peer), sizeof peer);
        while (!far.stop || tcp) {
            if (!read_message(conn, tcp, buf.data(), spec.size)) {
                if (!tcp && !far.stop) continue;  // a lost datagram: the client reports it
                break;
            }
            far.msgs += 1;
            far.bytes += spec.size;
            if (!write_message(conn, buf.data(), spec.size)) break;
            far.sent_msgs += 1;
            far.sent_bytes += spec.size;
        }
    } else {
        // Stream receiver: count until the sender is done and the queue has drained
        // (EOF for TCP, 0.3 s of silence after the stop for UDP).
        while (true) {
            ssize_t n = recv(conn, buf.data(), buf.size(), 0);
            if (n > 0) {
                far.msgs += 1;
                far.bytes += uint64_t(n);
            } else if (n == 0 || far.stop || (errno != EAGAIN && errno != EINTR)) {
                break;
            }
        }
    }
    if (conn != fd) close(conn);
    close(fd);
}

// TCP_CRR's far end: accepts each connection, reads the request, answers, reads the
// client's EOF and closes (netperf's order: the client closes first). Ends at the stop,
// within the listener's 0.3 s receive timeout.
void far_end_crr(int ns, const RunSpec& spec, FarCounts& far) {
    int fd = open_socket(ns, SOCK_STREAM, kAddrB, kPort);
    if (fd < 0 || listen(fd, 128) != 0) {
        far.failed = true;
        if (fd >= 0) close(fd);
        return;
    }
    far.ready = true;
    std::vector<uint8_t> buf(spec.size, 0x5A);
    while (!far.stop) {
        int conn = accept(fd, nullptr, nullptr);  // inherits the 0.3 s receive timeout
        if (conn < 0) continue;
        if (read_message(conn, true, buf.data(), spec.size)) {
            far.msgs += 1;
            far.bytes += spec.size;
            if (write_message(conn, buf.data(), spec.size)) {
                far.sent_msgs += 1;
                far.sent_bytes += spec.size;
                recv(conn, buf.data(), 1, 0);  // the client's FIN
            }
        }
        close(conn);
    }
    close(fd);
}

// TCP_CRR's near end: per transaction a new socket connects, sends the request, reads
// the response, shuts down its side and reads the far end's FIN (netperf omni's
// disconnect_data_socket), then closes: the transaction counts once both FINs went.
void near_end_crr(int ns, const RunSpec& spec, const Progress& progress, FarCounts& far, RunResult& r) {
    far.wait_ready();
    if (far.failed || setns(ns, CLONE_NEWNET) != 0) {
        r.error = "the kernel's TCP_CRR listener did not start";
        far.stop = true;
        return;
    }
    std::vector<uint8_t> buf(spec.size, 0x5A);
    Counters c;
    auto exchange = [&] {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        timeval timeout{0, 300000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        bool ok = fd >= 0 && connect_to(fd, kAddrB) && write_message(fd, buf.data(), spec.size);
        if (ok) ++c.msgs_sent, c.bytes_sent += spec.size;
        ok = ok && read_message(fd, true, buf.data(), spec.size);
        if (ok) ++c.msgs_received, c.bytes_received += spec.size;
        ok = ok && shutdown(fd, SHUT_WR) == 0 && recv(fd, buf.data(), 1, 0) == 0;
        if (fd >= 0) close(fd);
        if (!ok) r.error = "a connection, request, response or close did not complete within 0.3 s";
        return ok;
    };
    auto read = [&] { return with_far(c, far); };
    measure(spec, progress, r, [&] { return timed_transaction(r, c, exchange); }, read);
    far.stop = true;
    r.total = c;
}

// The near end, in namespace A: sends the stream (or receives MAERTS) or asks the RR
// requests, inside measure().
void near_end(int ns, const RunSpec& spec, const Progress& progress, FarCounts& far, RunResult& r) {
    bool tcp = is_tcp(spec.test);
    far.wait_ready();
    int fd = open_socket(ns, tcp ? SOCK_STREAM : SOCK_DGRAM, kAddrA, tcp ? 0 : kPort);
    if (fd < 0 || far.failed || !connect_to(fd, kAddrB)) {
        r.error = "the kernel sockets did not connect across the veth pair";
        if (fd >= 0) close(fd);
        far.stop = true;
        return;
    }
    std::vector<uint8_t> buf(std::max<size_t>(spec.size, 256 * 1024), 0x5A);
    Counters c;
    auto read = [&] { return with_far(c, far); };
    if (spec.test == Test::tcp_maerts) {
        measure(
            spec, progress, r,
            [&] {
                ssize_t n = recv(fd, buf.data(), buf.size(), 0);
                if (n > 0) ++c.msgs_received, c.bytes_received += uint64_t(n);
                return n > 0 || (n < 0 && errno == EAGAIN);
            },
            read);
        far.stop = true;
        while (true) {  // drain what the far end sent before it saw the stop
            ssize_t n = recv(fd, buf.data(), buf.size(), 0);
            if (n <= 0) break;
            ++c.msgs_received, c.bytes_received += uint64_t(n);
        }
    } else if (is_rr(spec.test)) {
        measure(
            spec, progress, r,
            [&] {
                return timed_transaction(r, c, [&] {
                    if (!write_message(fd, buf.data(), spec.size)) return r.error = "request not sent", false;
                    ++c.msgs_sent, c.bytes_sent += spec.size;
                    if (!read_message(fd, tcp, buf.data(), spec.size))
                        return r.error = "a response did not arrive within 0.3 s", false;
                    ++c.msgs_received, c.bytes_received += spec.size;
                    return true;
                });
            },
            read);
        far.stop = true;
    } else {
        measure(
            spec, progress, r,
            [&] {
                for (size_t i = 0; i < kBurst; ++i) {
                    ssize_t n = send(fd, buf.data(), spec.size, MSG_NOSIGNAL);
                    if (n > 0) ++c.msgs_sent, c.bytes_sent += uint64_t(n);
                }
                return true;
            },
            read);
        far.stop = true;
    }
    if (tcp) shutdown(fd, SHUT_WR);  // EOF ends the far end's loop
    close(fd);
    r.total = c;
}

}  // namespace

int new_namespace(std::string& error) {
    int fd = -1;
    std::thread([&] {
        if (unshare(CLONE_NEWNET) == 0)
            fd = open("/proc/thread-self/ns/net", O_RDONLY);
        else
            error = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    }).join();
    return fd;
}

Counters with_far(Counters c, const FarCounts& far) {
    c.msgs_received += far.msgs;
    c.bytes_received += far.bytes;
    c.msgs_sent += far.sent_msgs;
    c.bytes_sent += far.sent_bytes;
    return c;
}

void kernel_far_end(int ns, const RunSpec& spec, FarCounts& far) {
    if (spec.test == Test::tcp_crr)
        far_end_crr(ns, spec, far);
    else
        far_end(ns, spec, far);
    far.done = true;
}

std::unique_ptr<KernelPair> KernelPair::create(std::string& error) {
    if (geteuid() != 0) {
        error =
            "needs root (it creates two network namespaces and a veth pair); run it with sudo, "
            "or leave out --baseline kernel";
        return nullptr;
    }
    std::unique_ptr<KernelPair> k(new KernelPair);
    k->ns_a_ = new_namespace(error);
    k->ns_b_ = new_namespace(error);
    if (k->ns_a_ < 0 || k->ns_b_ < 0) return nullptr;
    const int a = k->ns_a_, b = k->ns_b_;
    bool ok = run_command(in_ns(a, "ip link add veth0 type veth peer name veth1 netns " + ns_path(b)), error) &&
              run_command(in_ns(a, "ip addr add 198.18.0.1/24 dev veth0"), error) &&
              run_command(in_ns(b, "ip addr add 198.18.0.2/24 dev veth1"), error) &&
              run_command(in_ns(a, "ip link set veth0 up"), error) &&
              run_command(in_ns(b, "ip link set veth1 up"), error) &&
              // TCP_CRR: the client closes first and keeps TIME-WAIT; it may take a tuple
              // back after 1 s (timestamps tell old segments apart, RFC 7323 5.8), with
              // every port, instead of running out of ports within seconds.
              run_command(in_ns(a, "sysctl -w net.ipv4.tcp_tw_reuse=1"), error) &&
              run_command(in_ns(a, "sysctl -w net.ipv4.ip_local_port_range='1024 65535'"), error);
    if (!ok) return nullptr;
    return k;
}

KernelPair::~KernelPair() {
    // Closing the last references frees the namespaces and the veth pair in them.
    if (ns_a_ >= 0) close(ns_a_);
    if (ns_b_ >= 0) close(ns_b_);
}

bool KernelPair::set_offloads(bool capped, std::string& error) {
    if (offloads_capped_ == int(capped)) return true;
    const char* size = capped ? "1500" : "65536";
    std::string args = std::string(" gso_max_size ") + size + " gro_max_size " + size;
    bool ok = run_command(in_ns(ns_a_, "ip link set veth0" + args), error) &&
              run_command(in_ns(ns_b_, "ip link set veth1" + args), error);
    offloads_capped_ = ok ? int(capped) : -1;
    return ok;
}

RunResult KernelPair::run(const RunSpec& spec, const Progress& progress) {
    RunResult r;
    r.lossy_link = true;
    if (!set_offloads(spec.path == Path::kernel_capped, r.error)) return r;
    FarCounts far;
    bool crr = spec.test == Test::tcp_crr;
    std::thread far_thread([&] { kernel_far_end(ns_b_, spec, far); });
    std::thread near_thread(
        [&] { crr ? near_end_crr(ns_a_, spec, progress, far, r) : near_end(ns_a_, spec, progress, far, r); });
    near_thread.join();
    far_thread.join();
    r.total = with_far(r.total, far);
    return r;
}

}  // namespace quasi::perf
