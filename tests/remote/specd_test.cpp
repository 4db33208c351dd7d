// quasi-specd driven over loopback by a client speaking the protocol on a kernel
// socket (jit/remote/proto), this process being the device (x86-64): the code of a
// cold request, and of a cached one, is installed in a buffer mapped here and run,
// and its frames are the generic path's. Cold and cached latencies are measured and
// printed (not asserted). Every refusal is checked to happen: a bad MAC, an unknown
// device, truncated and oversized messages close the connection without a reply;
// an unknown target, a context of the wrong layout, a missing symbol, a too small
// code buffer get their status. The cache stays within --cache-bytes under many
// distinct contexts from several devices at once; SIGTERM stops the daemon cleanly.
#include "context/udp_context.hpp"
#include "jit/remote/device/target.hpp"
#include "jit/remote/proto/messages.hpp"
#include "tests/jit/jit_world.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstring>
#include <optional>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace quasi::test {
namespace {

namespace proto = quasi::remote;
using Clock = std::chrono::steady_clock;

const std::vector<uint8_t> kKey(32, 0x5A);
constexpr uint64_t kDevice = 7;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// The daemon as a child process, its port read from its first line.
class Specd {
public:
    explicit Specd(std::vector<std::string> extra = {}) {
        keys_ = "/tmp/quasi_specd_test_keys." + std::to_string(getpid()) + ".json";
        std::ofstream(keys_) << R"({"devices": [{"id": 7, "key": ")" << hex()
                             << R"("}, {"id": 8, "key": ")" << hex() << R"("}]})";
        int out[2];
        if (::pipe(out) != 0) return;
        std::vector<std::string> args{QUASI_SPECD_PATH, "--listen", "127.0.0.1:0", "--keys", keys_};
        args.insert(args.end(), extra.begin(), extra.end());
        pid_ = fork();
        if (pid_ == 0) {
            ::dup2(out[1], 1);
            std::vector<char*> argv;
            for (std::string& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
        ::close(out[1]);
        std::string line;
        char c;
        ::pollfd p{out[0], POLLIN, 0};
        while (line.size() < 200 && ::poll(&p, 1, 60000) == 1 && ::read(out[0], &c, 1) == 1 && c != '\n') line += c;
        ::close(out[0]);
        auto colon = line.rfind(':');
        if (line.rfind("listening on ", 0) == 0 && colon != std::string::npos) port_ = std::stoi(line.substr(colon + 1));
    }
    ~Specd() {
        if (pid_ > 0 && !stopped_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        unlink(keys_.c_str());
    }
    int port() const { return port_; }
    // SIGTERM; the exit status, or -1 if it did not exit within 20 s.
    int terminate() {
        kill(pid_, SIGTERM);
        for (int i = 0; i < 200; ++i) {
            int status;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                stopped_ = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return -1;
    }

private:
    static std::string hex() {
        std::string h;
        char b[3];
        for (uint8_t v : kKey) h += (std::snprintf(b, sizeof b, "%02x", v), b);
        return h;
    }
    std::string keys_;
    pid_t pid_ = -1;
    int port_ = 0;
    bool stopped_ = false;
};

// One connection to the daemon.
class Client {
public:
    explicit Client(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(uint16_t(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        timeval t{60, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~Client() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool ok() const { return fd_ >= 0; }
    bool write_bytes(std::span<const uint8_t> m) { return ::send(fd_, m.data(), m.size(), MSG_NOSIGNAL) == ssize_t(m.size()); }
    // One message back, or empty if the daemon closed the connection.
    std::vector<uint8_t> read_message() {
        std::vector<uint8_t> m(4);
        if (!read_exact(m.data(), 4)) return {};
        uint32_t len = proto::message_length(m);
        if (len == 0) return {};
        m.resize(len);
        if (!read_exact(m.data() + 4, len - 4)) return {};
        return m;
    }
    template <class Request>
    std::vector<uint8_t> exchange(const Request& r, std::span<const uint8_t> key = kKey) {
        std::vector<uint8_t> out(proto::kMaxMessageBytes);
        size_t size = 0;
        if (proto::encode(r, key, out, size) != proto::ProtoError::ok) return {};
        out.resize(size);
        if (!write_bytes(out)) return {};
        return read_message();
    }
    void shut_write() { ::shutdown(fd_, SHUT_WR); }

private:
    bool read_exact(uint8_t* p, size_t n) {
        while (n) {
            ssize_t r = ::recv(fd_, p, n, 0);
            if (r <= 0) return false;
            p += r;
            n -= size_t(r);
        }
        return true;
    }
    int fd_ = -1;
};

// A UDP request for this process's frozen context.
struct DeviceRequest {
    std::vector<uint8_t> context;
    std::vector<proto::Symbol> symbols;
    proto::SpecRequest request;

    DeviceRequest(const FrozenUdpContext& c, uint64_t code_address, uint32_t capacity) {
        const auto* p = reinterpret_cast<const uint8_t*>(&c);
        context.assign(p, p + sizeof c);
        auto table = proto::udp_host_symbols();
        symbols.assign(table.begin(), table.end());
        request.device_id = kDevice;
        request.target = proto::device_target();
        request.path = proto::SendPath::udp;
        request.pointer_bytes = sizeof(void*);
        request.layout_tag = proto::udp_context_layout_tag();
        request.code_address = code_address;
        request.code_capacity = capacity;
        refresh();
    }
    void refresh() {  // after editing context or symbols
        request.context = context;
        request.symbol_count = uint8_t(symbols.size());
        std::copy(symbols.begin(), symbols.end(), request.symbols.begin());
    }
};

uint64_t fresh_nonce() {
    static std::mt19937_64 rng(std::random_device{}());
    return rng();
}

// Sends the request with a fresh nonce; the checked reply (its MAC, type and nonce).
std::optional<proto::SpecReply> ask(Client& client, proto::SpecRequest request, std::vector<uint8_t>& storage) {
    request.nonce = fresh_nonce();
    storage = client.exchange(request);
    proto::SpecReply reply;
    if (storage.empty() || proto::decode(storage, kKey, reply) != proto::ProtoError::ok) return std::nullopt;
    if (reply.nonce != request.nonce || reply.device_id != request.device_id) return std::nullopt;
    return reply;
}

std::map<std::string, uint64_t> stats_of(int port) {
    Client c(port);
    proto::StatsRequest r{kDevice, fresh_nonce()};
    auto bytes = c.exchange(r);
    proto::StatsReply reply;
    std::map<std::string, uint64_t> out;
    if (bytes.empty() || proto::decode(bytes, kKey, reply) != proto::ProtoError::ok) return out;
    for (const proto::Stat& s : reply.entries()) out[std::string(s.name)] = s.value;
    return out;
}

constexpr size_t kBufferBytes = 16384;
struct ExecBuffer {
    ExecBuffer() {
        void* p = mmap(nullptr, kBufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        base = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
    }
    ~ExecBuffer() { munmap(base, kBufferBytes); }
    uint64_t address() const { return reinterpret_cast<uint64_t>(base); }
    using SendFn = ssize_t (*)(const uint8_t*, size_t);
    SendFn install(const proto::SpecReply& r) {
        mprotect(base, kBufferBytes, PROT_READ | PROT_WRITE);
        std::memcpy(base, r.code.data(), r.code.size());
        mprotect(base, kBufferBytes, PROT_READ | PROT_EXEC);
        return reinterpret_cast<SendFn>(base + r.entry_offset);
    }
    uint8_t* base;
};

TEST(Specd, ColdAndCachedRequestsGiveCodeThatSendsTheGenericFrames) {
    Specd specd;
    ASSERT_GT(specd.port(), 0);
    WorldConfig config;
    World generic(config), device(config);
    int fd0 = generic.connected_socket(4000, config.addr_b, 9);
    int fd1 = device.connected_socket(4000, config.addr_b, 9);
    auto snap = freeze_udp_send(device.a, fd1, 64u);
    ASSERT_TRUE(snap) << snap.error().message;
    ExecBuffer first, second;
    DeviceRequest dr(snap->context, first.address(), kBufferBytes);

    Client client(specd.port());
    ASSERT_TRUE(client.ok());
    std::vector<uint8_t> storage;
    auto start = Clock::now();
    auto cold = ask(client, dr.request, storage);
    double cold_ms = ms_since(start);
    ASSERT_TRUE(cold);
    ASSERT_EQ(cold->status, proto::Status::ok) << std::string(cold->message);
    EXPECT_EQ(cold->symbol_hash, proto::symbol_table_hash(dr.request.symbol_table()));
    EXPECT_EQ(cold->code_address, first.address());
    ASSERT_LT(cold->entry_offset, cold->code.size());
    auto send_fn = first.install(*cold);
    ASSERT_EQ(send_fn(nullptr, 0), kSlowPath);  // 0 bytes, a declared size of 64: the generic path's

    std::vector<double> cached_ms;
    std::vector<uint8_t> cached_storage;
    for (int i = 0; i < 20; ++i) {
        start = Clock::now();
        auto cached = ask(client, dr.request, cached_storage);
        cached_ms.push_back(ms_since(start));
        ASSERT_TRUE(cached);
        ASSERT_EQ(cached->status, proto::Status::ok);
        // Linked again from the cached object: the same code, its stub table in
        // whichever order JITLink built it this time.
        ASSERT_EQ(cached->code.size(), cold->code.size());
        if (i == 19) send_fn = first.install(*cached);  // the sends below run a cached reply's code
    }
    std::sort(cached_ms.begin(), cached_ms.end());
    std::printf("%s udp over loopback: cold %.1f ms, cached median %.3f ms (min %.3f, max %.3f), "
                "%zu B of code\n",
                std::string(proto::device_target()).c_str(), cold_ms, cached_ms[cached_ms.size() / 2], cached_ms.front(), cached_ms.back(), cold->code.size());

    for (int i = 0; i < 10; ++i) {
        std::vector<uint8_t> data(64, uint8_t(i));
        ASSERT_EQ(send(generic.a, fd0, data.data(), data.size()), 64);
        ASSERT_EQ(send_fn(data.data(), data.size()), 64);
        device.a.flush_all();
        auto frames = generic.take_frames();
        ASSERT_EQ(frames.size(), 1u);
        ASSERT_EQ(frames, device.take_frames()) << "send " << i;
    }

    // The same context for another slot of the device's code buffer: from the cache,
    // linked for that address, and it runs there.
    dr.request.code_address = second.address();
    auto moved = ask(client, dr.request, storage);
    ASSERT_TRUE(moved);
    ASSERT_EQ(moved->status, proto::Status::ok);
    auto moved_fn = second.install(*moved);
    std::vector<uint8_t> data(64, 0xEE);
    ASSERT_EQ(send(generic.a, fd0, data.data(), data.size()), 64);
    ASSERT_EQ(moved_fn(data.data(), data.size()), 64);
    device.a.flush_all();
    ASSERT_EQ(generic.take_frames(), device.take_frames());

    auto stats = stats_of(specd.port());
    EXPECT_EQ(stats["compiles"], 1u);
    EXPECT_EQ(stats["hits"], 21u);
    EXPECT_EQ(stats["requests"], 22u);
    EXPECT_EQ(specd.terminate(), 0);
}

TEST(Specd, RefusesBadRequestsEachWithItsOwnOutcome) {
    Specd specd;
    ASSERT_GT(specd.port(), 0);
    WorldConfig config;
    World device(config);
    int fd = device.connected_socket(4001, config.addr_b, 9);
    auto snap = freeze_udp_send(device.a, fd, std::nullopt);
    ASSERT_TRUE(snap);
    DeviceRequest good(snap->context, 0x7f0000000000, kBufferBytes);
    std::vector<uint8_t> storage;

    auto status_of = [&](const proto::SpecRequest& r) {
        Client c(specd.port());
        auto reply = ask(c, r, storage);
        return reply ? std::optional(reply->status) : std::nullopt;
    };
    // Answered with a status.
    auto unknown_target = good.request;
    unknown_target.target = "mips-linux-gnu";
    EXPECT_EQ(status_of(unknown_target), proto::Status::unknown_target);
    auto bad_tag = good.request;
    bad_tag.layout_tag ^= 1;
    EXPECT_EQ(status_of(bad_tag), proto::Status::bad_context);
    DeviceRequest short_context = good;
    short_context.context.resize(short_context.context.size() - 8);
    short_context.refresh();
    EXPECT_EQ(status_of(short_context.request), proto::Status::bad_context);
    auto wide = good.request;  // the board's context claimed with 8-byte pointers
    wide.target = "thumbv7m-none-eabi";
    EXPECT_EQ(status_of(wide), proto::Status::bad_context);
    DeviceRequest no_door = good;
    no_door.symbols.erase(no_door.symbols.begin());  // quasi_interface_transmit
    no_door.refresh();
    EXPECT_EQ(status_of(no_door.request), proto::Status::unknown_symbol);
    auto tiny = good.request;
    tiny.code_capacity = 32;
    EXPECT_EQ(status_of(tiny), proto::Status::code_too_large);
    EXPECT_EQ(status_of(good.request), proto::Status::ok);  // and the server still serves

    // Closed without a reply.
    std::vector<uint8_t> message(proto::kMaxMessageBytes);
    size_t size = 0;
    auto r = good.request;
    r.nonce = fresh_nonce();
    ASSERT_EQ(proto::encode(r, kKey, message, size), proto::ProtoError::ok);
    message.resize(size);
    {
        Client c(specd.port());
        auto forged = message;
        forged[size - 1] ^= 0x01;  // the MAC
        ASSERT_TRUE(c.write_bytes(forged));
        EXPECT_TRUE(c.read_message().empty());
    }
    {
        Client c(specd.port());
        auto other = r;
        other.device_id = 99;  // no such device
        EXPECT_TRUE(c.exchange(other).empty());
    }
    {
        Client c(specd.port());
        ASSERT_TRUE(c.write_bytes(std::span(message).first(size / 2)));  // truncated
        c.shut_write();
        EXPECT_TRUE(c.read_message().empty());
    }
    {
        Client c(specd.port());
        uint8_t huge[4] = {0x7F, 0, 0, 0};  // a length beyond kMaxMessageBytes
        ASSERT_TRUE(c.write_bytes(huge));
        EXPECT_TRUE(c.read_message().empty());
    }
    auto stats = stats_of(specd.port());
    EXPECT_EQ(stats["refusals"], 6u);
    EXPECT_EQ(stats["refused_messages"], 4u);
    EXPECT_EQ(stats["compiles"], 1u);
    EXPECT_EQ(specd.terminate(), 0);
}

// Many distinct contexts from several devices at once: all answered, the cache
// within its bound, the oldest evicted.
TEST(Specd, CacheStaysBoundedUnderManyDistinctContexts) {
    constexpr size_t kCacheBytes = 24 * 1024;
    Specd specd({"--cache-bytes", std::to_string(kCacheBytes), "--compile-threads", "2"});
    ASSERT_GT(specd.port(), 0);
    WorldConfig config;
    World device(config);
    int fd = device.connected_socket(4002, config.addr_b, 9);
    auto snap = freeze_udp_send(device.a, fd, std::nullopt);
    ASSERT_TRUE(snap);
    constexpr int kDevices = 4, kPerDevice = 12;
    std::atomic<int> ok{0};
    std::vector<std::thread> devices;
    for (int d = 0; d < kDevices; ++d) {
        devices.emplace_back([&, d] {
            Client c(specd.port());
            std::vector<uint8_t> storage;
            for (int i = 0; i < kPerDevice; ++i) {
                FrozenUdpContext context = snap->context;
                context.src_port = uint16_t(20000 + d * 100 + i);  // a distinct context each
                DeviceRequest dr(context, 0x7f0000000000, kBufferBytes);
                auto reply = ask(c, dr.request, storage);
                if (reply && reply->status == proto::Status::ok) ++ok;
            }
        });
    }
    for (std::thread& t : devices) t.join();
    EXPECT_EQ(ok, kDevices * kPerDevice);
    auto stats = stats_of(specd.port());
    std::printf("%d distinct contexts: %" PRIu64 " compiles, cache %" PRIu64 " B in %" PRIu64 " entries, %" PRIu64
                " evicted, compile time %.1f ms each on average\n",
                kDevices * kPerDevice, stats["compiles"], stats["cache_bytes"], stats["cache_entries"],
                stats["cache_evictions"], stats["compile_us"] / 1000.0 / std::max<uint64_t>(1, stats["compiles"]));
    EXPECT_EQ(stats["compiles"], uint64_t(kDevices * kPerDevice));
    EXPECT_LE(stats["cache_bytes"], kCacheBytes);
    EXPECT_GT(stats["cache_evictions"], 0u);
    EXPECT_LT(stats["cache_entries"], uint64_t(kDevices * kPerDevice));
    EXPECT_EQ(specd.terminate(), 0);
}

// SIGTERM with a device connected: the daemon closes the connection and exits 0.
TEST(Specd, StopsCleanlyOnSigterm) {
    Specd specd;
    ASSERT_GT(specd.port(), 0);
    Client idle(specd.port());
    ASSERT_TRUE(idle.ok());
    ASSERT_FALSE(stats_of(specd.port()).empty());
    EXPECT_EQ(specd.terminate(), 0);
    EXPECT_TRUE(idle.read_message().empty());
}

}  // namespace
}  // namespace quasi::test
