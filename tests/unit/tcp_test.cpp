// TCP through two whole stacks on the in-memory link: handshakes, transfers,
// closes, resets and the socket API's errors.
#include "stack_pair.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

namespace quasi::test {
namespace {

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    Random r(seed);
    for (auto& byte : v) byte = static_cast<uint8_t>(r.next());
    return v;
}

struct TcpPair : StackPair {
    using StackPair::StackPair;
    int listener = -1;
    int client = -1;
    int server = -1;

    // b listens on port 80; a connects; both ends established.
    void establish(uint16_t port = 80) {
        listener = socket(b, kAfInet, kSockStream);
        ASSERT_GE(listener, 0);
        ASSERT_EQ(bind(b, listener, SockAddr{Ipv4Addr{}, port}), 0);
        ASSERT_EQ(listen(b, listener, 16), 0);
        client = socket(a, kAfInet, kSockStream);
        ASSERT_EQ(connect(a, client, SockAddr{addr_b, port}), -EINPROGRESS);
        pump();
        SockAddr peer;
        server = accept(b, listener, &peer);
        ASSERT_GE(server, 0) << drops_of(b.stats());
        EXPECT_EQ(peer.addr, addr_a);
        PollFd pfd{client, events::out, 0};
        EXPECT_EQ(poll(a, &pfd, 1), 1);
    }

    // Moves `data` from `from` to `to` (both stacks pumped), returns what arrived.
    std::vector<uint8_t> transfer(Stack& src, int sfd, Stack& dst, int dfd, const std::vector<uint8_t>& data,
                                  int max_rounds = 100000) {
        std::vector<uint8_t> got;
        std::vector<uint8_t> buf(65536);
        size_t sent = 0;
        for (int round = 0; round < max_rounds && got.size() < data.size(); ++round) {
            if (sent < data.size()) {
                ssize_t n = send(src, sfd, data.data() + sent, data.size() - sent);
                if (n > 0) sent += size_t(n);
                else EXPECT_EQ(n, -EAGAIN);
            }
            a.poll();
            b.poll();
            ssize_t n;
            while ((n = recv(dst, dfd, buf.data(), buf.size())) > 0) got.insert(got.end(), buf.begin(), buf.begin() + n);
            clock.advance(kMillisecond);
        }
        return got;
    }
};

TEST(Tcp, HandshakeTransferAndOrderlyClose) {
    TcpPair p;
    p.establish();
    auto data = pattern(4 << 20, 7);
    auto got = p.transfer(p.a, p.client, p.b, p.server, data);
    ASSERT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data);
    auto back = pattern(1 << 20, 8);
    got = p.transfer(p.b, p.server, p.a, p.client, back);
    EXPECT_TRUE(got == back);
    // Client closes first: FIN-WAIT, server sees EOF, closes, client in TIME-WAIT.
    EXPECT_EQ(close(p.a, p.client), 0);
    p.pump();
    uint8_t byte;
    EXPECT_EQ(recv(p.b, p.server, &byte, 1), 0);
    EXPECT_EQ(close(p.b, p.server), 0);
    p.pump();
    // TIME-WAIT is a record: the socket went at once.
    EXPECT_EQ(p.a.tcp().open_sockets(), 0u);
    EXPECT_EQ(p.a.tcp().time_wait().size(), 1u);
    p.run_for(61 * kSecond, 100 * kMillisecond);
    EXPECT_EQ(p.a.tcp().time_wait().size(), 0u);
    EXPECT_EQ(p.b.tcp().open_sockets(), 1u);  // the listener
    EXPECT_EQ(p.a.stats()[Counter::tcp_retransmits], 0u);
    EXPECT_EQ(unexpected_drops(p.a.stats()), 0u) << drops_of(p.a.stats());
    EXPECT_EQ(unexpected_drops(p.b.stats()), 0u) << drops_of(p.b.stats());
}

TEST(Tcp, ConnectToClosedPortIsRefused) {
    TcpPair p;
    int fd = socket(p.a, kAfInet, kSockStream);
    ASSERT_EQ(connect(p.a, fd, SockAddr{TcpPair::addr_b, 81}), -EINPROGRESS);
    p.pump();
    PollFd pfd{fd, events::out, 0};
    EXPECT_EQ(poll(p.a, &pfd, 1), 1);
    EXPECT_TRUE(pfd.revents & events::err);
    int err = 0;
    size_t len = sizeof err;
    EXPECT_EQ(getsockopt(p.a, fd, kSolSocket, kSoError, &err, &len), 0);
    EXPECT_EQ(err, ECONNREFUSED);
}

TEST(Tcp, AbortiveCloseResetsPeer) {
    TcpPair p;
    p.establish();
    Linger l{1, 0};
    ASSERT_EQ(setsockopt(p.a, p.client, kSolSocket, kSoLinger, &l, sizeof l), 0);
    EXPECT_EQ(close(p.a, p.client), 0);
    p.pump();
    uint8_t byte;
    EXPECT_EQ(recv(p.b, p.server, &byte, 1), -ECONNRESET);
    EXPECT_EQ(p.a.tcp().open_sockets(), 0u);
}

TEST(Tcp, ManyConnections) {
    TcpPair p;
    int l = socket(p.b, kAfInet, kSockStream);
    bind(p.b, l, SockAddr{Ipv4Addr{}, 80});
    listen(p.b, l, 512);
    std::vector<int> clients;
    for (int i = 0; i < 300; ++i) {
        int fd = socket(p.a, kAfInet, kSockStream);
        ASSERT_EQ(connect(p.a, fd, SockAddr{TcpPair::addr_b, 80}), -EINPROGRESS);
        clients.push_back(fd);
    }
    // Only the last few SYNs wait for ARP (RFC 1122 2.3.2.2); the rest are resent
    // by their retransmission timers a second later.
    p.run_for(3 * kSecond, 50 * kMillisecond);
    std::vector<int> servers;
    int fd;
    while ((fd = accept(p.b, l, nullptr)) >= 0) servers.push_back(fd);
    EXPECT_EQ(servers.size(), clients.size()) << drops_of(p.b.stats());
    for (size_t i = 0; i < clients.size(); ++i) {
        uint32_t v = uint32_t(i);
        EXPECT_EQ(send(p.a, clients[i], &v, 4), 4);
    }
    p.pump();
    p.run_for(100 * kMillisecond);
    for (int s : servers) {
        uint32_t v = 0;
        EXPECT_EQ(recv(p.b, s, &v, 4), 4);
        EXPECT_EQ(send(p.b, s, &v, 4), 4);
        close(p.b, s);
    }
    p.pump();
    for (size_t i = 0; i < clients.size(); ++i) {
        uint32_t v = 99999;
        EXPECT_EQ(recv(p.a, clients[i], &v, 4), 4);
        EXPECT_EQ(v, i);
        close(p.a, clients[i]);
    }
    p.run_for(200 * kMillisecond);
    EXPECT_EQ(p.a.tcp().open_sockets(), 0u);  // the server closed first: TIME-WAIT is on b
}

}  // namespace
}  // namespace quasi::test
