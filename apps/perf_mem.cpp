// quasi-perf on the in-memory link: both stacks in this process, polled alternately on
// one thread, so a figure measures the whole path: socket send, TCP or UDP, IPv4, ARP,
// Ethernet, link, and the same on receive up to recv(). With RunSpec::receiver_thread
// (stream tests) the receiving stack runs on a thread of its own across a ThreadLink.
#include "apps/app_common.hpp"
#include "apps/perf_quasi_end.hpp"
#include "ports/x86/mem_link.hpp"
#include "ports/x86/steady_clock.hpp"
#include "ports/x86/thread_link.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace quasi::perf {
namespace {

constexpr Ipv4Addr kAddrA = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kAddrB = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr uint16_t kPortA = 5001;
constexpr uint16_t kPortB = 5002;
constexpr size_t kBurst = 32;
constexpr int kMaxIdlePolls = 10000;  // a message not delivered after this many rounds is lost

struct MemPair {
    SteadyClock clock;
    BufferPool pool{BufferPool::Config{.count = 8192}};
    MemLink link;
    // threaded: a pool per stack (a pool is one thread's) and the link between threads.
    std::unique_ptr<BufferPool> pool_b;
    std::unique_ptr<ThreadLink> thread_link;
    std::unique_ptr<WireTally> tally_a, tally_b;  // RunSpec::wire
    std::unique_ptr<Stack> a, b;
    int fa = -1, fb = -1;

    const QuasiLink* other = nullptr;

    MemPair(const QuasiLink* other_link, bool threaded, bool wire) : other(other_link) {
        if (threaded) {
            pool_b = std::make_unique<BufferPool>(BufferPool::Config{.count = 8192});
            thread_link = std::make_unique<ThreadLink>(pool, *pool_b, ThreadLink::Config{});
        }
        Stack::Config config;
        config.seed = app::random_seed();
        a = std::make_unique<Stack>(config, clock, other ? other->pool_a : &pool);
        config.seed = app::random_seed();
        b = std::make_unique<Stack>(config, clock, other ? other->pool_b : pool_b ? pool_b.get() : &pool);
        Netif& na = other ? *other->a : thread_link ? static_cast<Netif&>(thread_link->a()) : link.a();
        Netif& nb = other ? *other->b : thread_link ? static_cast<Netif&>(thread_link->b()) : link.b();
        if (wire) {
            tally_a = std::make_unique<WireTally>(na);
            tally_b = std::make_unique<WireTally>(nb);
        }
        a->add_interface(tally_a ? *tally_a : na, kAddrA, 24);
        b->add_interface(tally_b ? *tally_b : nb, kAddrB, 24);
    }
    // What each stack of a stream test transmitted (the sender's, the receiver's).
    void wire_counts(RunResult& r, bool reverse) const {
        if (!tally_a) return;
        r.wire = true;
        r.wire_sender = (reverse ? tally_b : tally_a)->counts();
        r.wire_receiver = (reverse ? tally_a : tally_b)->counts();
    }
    // Frames still on another link would reach the next run's stacks: drain them.
    ~MemPair() {
        a.reset();
        b.reset();
        if (!other) return;
        std::array<PacketPtr, kBurst> burst;
        while (other->a->rx_burst(burst) + other->b->rx_burst(burst) > 0)
            for (PacketPtr& p : burst) p.reset();
    }
    void poll_both() {
        a->poll();
        b->poll();
    }
    // UDP: a bound and connected to b. TCP: a connected to b, accepted.
    bool open(bool tcp, std::string& error) {
        if (!tcp) {
            fa = socket(*a, kAfInet, kSockDgram);
            fb = socket(*b, kAfInet, kSockDgram);
            bind(*a, fa, SockAddr{kAddrA, kPortA});
            bind(*b, fb, SockAddr{kAddrB, kPortB});
            connect(*a, fa, SockAddr{kAddrB, kPortB});
            connect(*b, fb, SockAddr{kAddrA, kPortA});
            // Resolve ARP both ways before anything is timed.
            uint8_t probe = 0, buf[16];
            send(*a, fa, &probe, 1);
            send(*b, fb, &probe, 1);
            for (int i = 0; i < 64; ++i) poll_both();
            while (recv(*a, fa, buf, sizeof buf) >= 0) {
            }
            while (recv(*b, fb, buf, sizeof buf) >= 0) {
            }
            return true;
        }
        int l = socket(*b, kAfInet, kSockStream);
        bind(*b, l, SockAddr{kAddrB, kPortB});
        listen(*b, l, 1);
        fa = socket(*a, kAfInet, kSockStream);
        connect(*a, fa, SockAddr{kAddrB, kPortB});
        for (int i = 0; i < 1000 && fb < 0; ++i) {
            poll_both();
            fb = accept(*b, l, nullptr);
        }
        if (fb < 0) error = "the TCP connection did not establish on the in-memory link";
        return fb >= 0;
    }
};

// A stream test's ends, connected: the sending stack (MAERTS: the far end) with its
// Sender (send() or a handle), the receiving stack and its socket.
struct StreamEnds {
    bool tcp = false, reverse = false;
    Stack *tx = nullptr, *rx = nullptr;
    int frx = -1;
    Sender sender;

    bool open(MemPair& m, const RunSpec& spec, std::string& error) {
        tcp = is_tcp(spec.test);
        if (!m.open(tcp, error)) return false;
        reverse = spec.test == Test::tcp_maerts;
        tx = reverse ? m.b.get() : m.a.get();
        rx = reverse ? m.a.get() : m.b.get();
        frx = reverse ? m.fa : m.fb;
        return sender.init(*tx, reverse ? m.fb : m.fa, spec.path, spec.size, tcp, error);
    }
};

RunResult run_stream(MemPair& m, const RunSpec& spec, const Progress& progress) {
    RunResult r;
    StreamEnds e;
    if (!e.open(m, spec, r.error)) return r;
    bool tcp = e.tcp, reverse = e.reverse;
    Stack &tx = *e.tx, &rx = *e.rx;
    int frx = e.frx;
    Sender& sender = e.sender;
    std::vector<uint8_t> payload(spec.size, 0x5A), buf(256 * 1024);
    Counters c;
    auto step = [&] {
        for (size_t i = 0; i < kBurst; ++i) {
            ssize_t n = sender.send(payload.data(), spec.size);
            if (n <= 0) break;  // TCP: the send buffer is full until the peer reads
            ++c.msgs_sent;
            c.bytes_sent += uint64_t(n);
        }
        tx.poll();
        rx.poll();
        receive_all(rx, frx, buf, c);
        return true;
    };
    measure(spec, progress, r, step, [&] { return c; });
    // Drain what is still in flight so the totals can be compared end to end. Bounded in
    // time, not rounds: a small tail Nagle holds back leaves only when the delayed ACK's
    // timer fires (RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.2).
    uint64_t unit_sent = tcp ? c.bytes_sent : c.msgs_sent;
    auto drain_end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while ((tcp ? c.bytes_received : c.msgs_received) < unit_sent && std::chrono::steady_clock::now() < drain_end) {
        tx.poll();
        rx.poll();
        receive_all(rx, frx, buf, c);
    }
    r.total = c;
    sender.add_counts(r);
    m.wire_counts(r, reverse);
    return r;
}

// Nothing to do until the other thread moves: on a machine with fewer free cores than
// threads the other one may be waiting for this core, so give it up.
inline void idle() { std::this_thread::yield(); }

// As netperf -T: the sender on one CPU, the receiver on another, so the scheduler
// cannot run them by turns on one core (each then idles half its slices: the ring is
// full for one, empty for the other). The sender's mask is restored by ~CpuPin.
class CpuPin {
public:
    CpuPin() {
        if (pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_) != 0) return;
        for (int cpu = 0; cpu < CPU_SETSIZE && receiver_cpu_ < 0; ++cpu) {
            if (!CPU_ISSET(cpu, &saved_)) continue;
            if (sender_cpu_ < 0)
                sender_cpu_ = cpu;
            else
                receiver_cpu_ = cpu;
        }
        if (receiver_cpu_ >= 0) pin(sender_cpu_);
    }
    ~CpuPin() {
        if (receiver_cpu_ >= 0) pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_);
    }
    void pin_receiver() const {
        if (receiver_cpu_ >= 0) pin(receiver_cpu_);
    }

private:
    static void pin(int cpu) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    }
    cpu_set_t saved_{};
    int sender_cpu_ = -1, receiver_cpu_ = -1;  // -1: a single CPU, nothing pinned
};

// CPU seconds the calling thread has run (user and system).
double thread_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_THREAD, &u);
    auto s = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return s(u.ru_utime) + s(u.ru_stime);
}

// The receiving stack on a thread of its own: it polls and reads as fast as it can and
// publishes what it got (each count has one writer); the sending stack stays with the
// caller's thread. Neither thread touches the other's stack while both run.
struct ReceiverThread {
    std::atomic<uint64_t> msgs{0}, bytes{0};
    std::atomic<bool> stop{false};
    std::thread thread;
    double cpu_s = 0;  // the thread's CPU time, read after join()

    void start(Stack& rx, int fd, const CpuPin& cpus) {
        thread = std::thread([this, &rx, fd, &cpus] {
            cpus.pin_receiver();
            std::vector<uint8_t> buf(256 * 1024);
            Counters c;
            // Busy-polls, as a DPDK lcore does. Once told to stop (the sender has sent
            // and flushed everything), it still empties the link: it ends on a round
            // that found nothing, so every frame sent was received or counted dropped.
            for (;;) {
                bool stopping = stop.load(std::memory_order_acquire);
                uint64_t before = c.msgs_received;
                size_t work = rx.poll();
                receive_all(rx, fd, buf, c);
                msgs.store(c.msgs_received, std::memory_order_relaxed);
                bytes.store(c.bytes_received, std::memory_order_relaxed);
                if (stopping && work == 0 && c.msgs_received == before) break;
            }
            cpu_s = thread_cpu_seconds();
        });
    }
    void join() {
        stop.store(true, std::memory_order_release);
        if (thread.joinable()) thread.join();
    }
    ~ReceiverThread() { join(); }
};

// A stream test with the receiver on its own thread (RunSpec::receiver_thread): the
// sender may now outrun the receiver, so UDP datagrams are lost on a full ring or a
// full socket queue; each loss is counted by the stack that dropped it, and the run
// fails unless sent == received + dropped.
RunResult run_stream_threaded(MemPair& m, const RunSpec& spec, const Progress& progress) {
    RunResult r;
    r.receiver_thread = true;
    if (is_rr(spec.test)) {
        r.error = "a receiver thread runs the stream tests only";
        return r;
    }
    StreamEnds e;
    if (!e.open(m, spec, r.error)) return r;  // both stacks on this thread until the receiver starts
    bool tcp = e.tcp, reverse = e.reverse;
    Stack &tx = *e.tx, &rx = *e.rx;
    int frx = e.frx;
    Sender& sender = e.sender;
    std::vector<uint8_t> payload(spec.size, 0x5A);
    Counters c;
    CpuPin cpus;
    ReceiverThread receiver;
    double sender_cpu_start = thread_cpu_seconds();
    receiver.start(rx, frx, cpus);
    auto read = [&] {
        Counters now = c;
        now.msgs_received = receiver.msgs.load(std::memory_order_relaxed);
        now.bytes_received = receiver.bytes.load(std::memory_order_relaxed);
        return now;
    };
    auto step = [&] {
        size_t i = 0;
        for (; i < kBurst; ++i) {
            ssize_t n = sender.send(payload.data(), spec.size);
            if (n <= 0) break;
            ++c.msgs_sent;
            c.bytes_sent += uint64_t(n);
        }
        tx.poll();
        if (i == 0) idle();
        return true;
    };
    measure(spec, progress, r, step, read);
    // Drain, bounded in time: TCP until every byte is in; UDP until nothing more arrives
    // for 100 ms (the rest was dropped, and counted, on the way, or the receiver takes
    // it from the link before it stops).
    using clock = std::chrono::steady_clock;
    auto end = clock::now() + std::chrono::seconds(2), quiet_since = clock::now();
    for (uint64_t last = 0; clock::now() < end;) {
        Counters now = read();
        uint64_t got = tcp ? now.bytes_received : now.msgs_received;
        if (got == (tcp ? c.bytes_sent : c.msgs_sent)) break;
        if (got != last) last = got, quiet_since = clock::now();
        if (!tcp && clock::now() - quiet_since > std::chrono::milliseconds(100)) break;
        tx.poll();
    }
    tx.poll();  // nothing left in the sender's transmit batch
    r.sender_cpu_s = thread_cpu_seconds() - sender_cpu_start;
    receiver.join();  // after it has emptied the link
    r.receiver_cpu_s = receiver.cpu_s;
    r.total = read();
    sender.add_counts(r);
    r.drops_link_full = tx.stats()[Drop::tx_ring_full];
    r.drops_receive_queue = rx.stats()[Drop::udp_queue_full];
    uint64_t no_buffer = tx.stats()[Drop::tx_no_buffer];
    if (!tcp && r.total.msgs_sent != r.total.msgs_received + r.drops_link_full + r.drops_receive_queue + no_buffer)
        r.error = "datagrams neither received nor counted as dropped: sent " + std::to_string(r.total.msgs_sent) +
                  ", received " + std::to_string(r.total.msgs_received) + ", dropped " +
                  std::to_string(r.drops_link_full + r.drops_receive_queue + no_buffer);
    r.lossy_link = !tcp;
    m.wire_counts(r, reverse);
    return r;
}

// Reads exactly `size` bytes (TCP) or one datagram (UDP) from fd, polling both stacks.
bool receive_message(MemPair& m, Stack& s, int fd, bool tcp, size_t size, std::vector<uint8_t>& buf, Counters& c) {
    size_t got = 0;
    for (int idle = 0; idle < kMaxIdlePolls; ++idle) {
        ssize_t n = recv(s, fd, buf.data(), tcp ? size - got : buf.size());
        if (n > 0) {
            got += size_t(n);
            c.bytes_received += uint64_t(n);
            if (!tcp || got == size) {
                ++c.msgs_received;
                return true;
            }
            idle = 0;
            continue;
        }
        m.poll_both();
    }
    return false;
}

// Sends all `size` bytes of one message through `s`, polling both stacks while the
// send buffer (or the handshake) holds it back.
bool send_message(MemPair& m, Sender& s, const std::vector<uint8_t>& payload, Counters& c) {
    size_t off = 0, size = payload.size();
    for (int tries = 0; off < size && tries < kMaxIdlePolls; ++tries) {
        ssize_t n = s.send(payload.data() + off, size - off);
        if (n > 0)
            off += size_t(n);
        else
            m.poll_both();
    }
    if (off < size) return false;
    ++c.msgs_sent;
    c.bytes_sent += size;
    return true;
}

RunResult run_rr(MemPair& m, const RunSpec& spec, const Progress& progress) {
    RunResult r;
    bool tcp = is_tcp(spec.test);
    if (!m.open(tcp, r.error)) return r;
    Sender client, server;
    if (!client.init(*m.a, m.fa, spec.path, spec.size, tcp, r.error) ||
        !server.init(*m.b, m.fb, spec.path, spec.size, tcp, r.error))
        return r;
    std::vector<uint8_t> payload(spec.size, 0x5A), buf(std::max<size_t>(spec.size, 2048));
    Counters c;
    auto step = [&] {
        return timed_transaction(r, c, [&] {
            if (send_message(m, client, payload, c) && receive_message(m, *m.b, m.fb, tcp, spec.size, buf, c) &&
                send_message(m, server, payload, c) && receive_message(m, *m.a, m.fa, tcp, spec.size, buf, c))
                return true;
            r.error = "a request or response was not delivered";
            return false;
        });
    };
    measure(spec, progress, r, step, [&] { return c; });
    r.total = c;
    client.add_counts(r);
    server.add_counts(r);
    return r;
}

// Polls both stacks until `ready` holds; false after kMaxIdlePolls rounds.
template <class Ready>
bool poll_until(MemPair& m, Ready ready) {
    for (int i = 0; i < kMaxIdlePolls; ++i) {
        if (ready()) return true;
        m.poll_both();
    }
    return false;
}

// One TCP_CRR transaction, as netperf's (the omni test's since netperf 2.5): the
// client connects and sends its request, the server accepts, reads it and answers;
// the client reads the response and shuts down its side (its FIN first, so TIME-WAIT
// stays with it), the server reads to the EOF and closes (its FIN), the client reads
// its EOF and closes. It counts only once the close is complete: the client's
// connection has become a TIME-WAIT record, the server's socket is gone (its FIN
// acknowledged) and neither stack holds a socket of it. The client's connect() takes
// its own records' tuples back (RFC 6191); a new SYN meeting a server's record within
// the same timestamp tick would be refused, which is why the client closes first.
bool crr_transaction(MemPair& m, int listener, const std::vector<uint8_t>& payload, std::vector<uint8_t>& buf,
                     Counters& c, std::string& error) {
    Sender client, server;
    client.stack = m.a.get(), server.stack = m.b.get();
    const uint64_t records_before = m.a->stats()[Counter::tcp_time_wait_entered];
    client.fd = socket(*m.a, kAfInet, kSockStream);
    if (client.fd < 0 || connect(*m.a, client.fd, SockAddr{kAddrB, kPortB}) != -EINPROGRESS) {
        error = "socket() or connect() failed";
        if (client.fd >= 0) close(*m.a, client.fd);
        return false;
    }
    size_t size = payload.size();
    bool ok = poll_until(m, [&] { return (server.fd = accept(*m.b, listener, nullptr)) >= 0; }) &&
              send_message(m, client, payload, c) && receive_message(m, *m.b, server.fd, true, size, buf, c) &&
              send_message(m, server, payload, c) && receive_message(m, *m.a, client.fd, true, size, buf, c) &&
              shutdown(*m.a, client.fd, kShutWr) == 0;
    // Each end reads its peer's FIN as an EOF (recv 0); the server closes on it.
    auto eof = [&](Stack& s, int fd) { return poll_until(m, [&] { return recv(s, fd, buf.data(), buf.size()) == 0; }); };
    ok = ok && eof(*m.b, server.fd);
    if (server.fd >= 0) close(*m.b, server.fd);
    ok = ok && eof(*m.a, client.fd);
    close(*m.a, client.fd);
    if (!ok) {
        error = "a connection, request, response or FIN was not delivered";
        return false;
    }
    // The client's ACK of the server's FIN ends the server's LAST-ACK.
    if (!poll_until(m, [&] { return m.a->tcp().open_sockets() == 0 && m.b->tcp().open_sockets() == 1; })) {
        error = "a closed connection still holds a socket";
        return false;
    }
    if (m.a->stats()[Counter::tcp_time_wait_entered] != records_before + 1) {
        error = "the client's connection did not end in a TIME-WAIT record";
        return false;
    }
    return true;
}

RunResult run_crr(MemPair& m, const RunSpec& spec, const Progress& progress) {
    RunResult r;
    int listener = socket(*m.b, kAfInet, kSockStream);
    bind(*m.b, listener, SockAddr{kAddrB, kPortB});
    listen(*m.b, listener, 16);
    std::vector<uint8_t> payload(spec.size, 0x5A), buf(std::max<size_t>(spec.size, 2048));
    Counters c;
    auto step = [&] {
        return timed_transaction(r, c, [&] { return crr_transaction(m, listener, payload, buf, c, r.error); });
    };
    measure(spec, progress, r, step, [&] { return c; });
    r.total = c;
    r.time_wait_records = m.a->stats()[Counter::tcp_time_wait_entered] + m.b->stats()[Counter::tcp_time_wait_entered];
    r.sockets_left = m.a->tcp().open_sockets() + m.b->tcp().open_sockets() - 1;  // the listener
    return r;
}

}  // namespace

RunResult run_mem(const RunSpec& spec, const Progress& progress, const QuasiLink* link) {
    MemPair m(link, spec.receiver_thread, spec.wire);
    if (spec.receiver_thread) return run_stream_threaded(m, spec, progress);
    if (spec.test == Test::tcp_crr) return run_crr(m, spec, progress);
    return is_rr(spec.test) ? run_rr(m, spec, progress) : run_stream(m, spec, progress);
}

}  // namespace quasi::perf
