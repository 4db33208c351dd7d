// The remote specializer's compile and link, with this process as the device: the
// frozen context is this process's (x86-64, the server's x86_64-linux-gnu target),
// the code is linked for the address of a buffer mapped here, copied there as the
// bytes came back, made executable and run. Its frames must be the generic path's,
// byte for byte (the differential idea of tests/jit/spec_differential_test.cpp),
// for random contexts; TCP with a declared message too. And every refusal the
// server makes from compile() or link() is checked to happen, with its error.
#include "context/tcp_context.hpp"
#include "context/udp_context.hpp"
#include "jit/entry_points.hpp"
#include "jit/remote/server/target_compiler.hpp"
#include "stack/tcp.hpp"
#include "tests/jit/jit_world.hpp"
#include "tests/remote/target_contexts.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cerrno>
#include <random>
#include <string>

namespace quasi::test {
namespace {

using jit::remote::DeviceSymbol;
using jit::remote::SendPath;
using jit::remote::TargetCompiler;
using SendFn = ssize_t (*)(const uint8_t*, size_t);

constexpr size_t kBufferBytes = 64 * 1024;

// A code buffer of this "device": mapped writable, filled, then read+execute.
struct CodeBuffer {
    CodeBuffer() {
        void* p = mmap(nullptr, kBufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        base = p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
    }
    ~CodeBuffer() {
        if (base) munmap(base, kBufferBytes);
    }
    uint64_t address() const { return reinterpret_cast<uint64_t>(base); }
    SendFn install(const jit::remote::LinkedImage& image) {
        if (mprotect(base, kBufferBytes, PROT_READ | PROT_WRITE) != 0) return nullptr;
        std::memcpy(base, image.bytes.data(), image.bytes.size());
        if (mprotect(base, kBufferBytes, PROT_READ | PROT_EXEC) != 0) return nullptr;
        return reinterpret_cast<SendFn>(base + image.entry_offset);
    }
    uint8_t* base = nullptr;
};

std::vector<DeviceSymbol> symbols_of(const jit::EntryPoint& entry) {
    std::vector<DeviceSymbol> out;
    for (const jit::HostSymbol& s : entry.host_symbols) out.push_back({s.name, reinterpret_cast<uint64_t>(s.address)});
    return out;
}

class RemoteLink : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        auto c = TargetCompiler::create("x86_64-linux-gnu");
        ASSERT_TRUE(c) << c.error().message;
        compiler = std::move(*c);
    }
    static void TearDownTestSuite() { compiler.reset(); }
    static std::unique_ptr<TargetCompiler> compiler;
};
std::unique_ptr<TargetCompiler> RemoteLink::compiler;

// The layout the server reads from the target's bitcode is the host compiler's
// (x86-64): size and the offsets the context header pins.
TEST_F(RemoteLink, LayoutFromTheTargetBitcodeIsTheHostCompilers) {
    auto udp = compiler->layout_words(SendPath::udp);
    ASSERT_EQ(udp.size(), 19u);  // size + 18 members
    EXPECT_EQ(udp[0], sizeof(FrozenUdpContext));
    EXPECT_EQ(udp[2], offsetof(FrozenUdpContext, dst_mac));
    EXPECT_EQ(udp[12], offsetof(FrozenUdpContext, message_size));
    EXPECT_EQ(udp[13], offsetof(FrozenUdpContext, pool));
    EXPECT_EQ(udp[18], offsetof(FrozenUdpContext, guard));
    auto tcp = compiler->layout_words(SendPath::tcp);
    EXPECT_EQ(tcp[0], sizeof(FrozenTcpContext));
    EXPECT_EQ(tcp.back(), offsetof(FrozenTcpContext, guard));
    EXPECT_EQ(compiler->pointer_bytes(), 8u);
}

TEST_F(RemoteLink, UdpFramesEqualTheGenericPathsForRandomContexts) {
    std::mt19937_64 rng(20261207);
    constexpr int kScenarios = 6, kSends = 12;
    CodeBuffer buffer;
    ASSERT_NE(buffer.base, nullptr);
    auto symbols = symbols_of(jit::udp_entry_point());
    size_t compared = 0;
    for (int n = 0; n < kScenarios; ++n) {
        WorldConfig config;
        config.seed = 100 + n;
        config.mtu = static_cast<uint16_t>(std::uniform_int_distribution<int>(576, 1500)(rng));
        World generic(config), device(config);
        uint16_t port = static_cast<uint16_t>(std::uniform_int_distribution<int>(1024, 60000)(rng));
        int fd0 = generic.connected_socket(port, config.addr_b, 7);
        int fd1 = device.connected_socket(port, config.addr_b, 7);
        ASSERT_GE(fd0, 0);
        ASSERT_GE(fd1, 0);
        int ttl = std::uniform_int_distribution<int>(1, 255)(rng), no_check = n % 3 == 0;
        for (auto [w, fd] : {std::pair{&generic, fd0}, std::pair{&device, fd1}}) {
            ASSERT_EQ(setsockopt(w->a, fd, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
            ASSERT_EQ(setsockopt(w->a, fd, kSolSocket, kSoNoCheck, &no_check, sizeof no_check), 0);
        }
        std::optional<uint32_t> adu;
        if (n % 2) adu = std::uniform_int_distribution<uint32_t>(1, config.mtu - 28u)(rng);
        auto snap = freeze_udp_send(device.a, fd1, adu);
        ASSERT_TRUE(snap) << snap.error().message;

        auto object = compiler->compile(SendPath::udp, bytes_of(snap->context));
        ASSERT_TRUE(object) << object.error().message;
        auto image = compiler->link(*object, buffer.address(), kBufferBytes, symbols);
        ASSERT_TRUE(image) << image.error().message;
        EXPECT_FALSE(image->thumb);
        EXPECT_GT(image->code_bytes, 0u);
        SendFn send_fn = buffer.install(*image);
        ASSERT_NE(send_fn, nullptr);

        for (int i = 0; i < kSends; ++i) {
            size_t len = adu && i % 2 ? *adu : std::uniform_int_distribution<size_t>(0, config.mtu - 28u)(rng);
            std::vector<uint8_t> data(len);
            for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
            ssize_t r0 = send(generic.a, fd0, data.data(), len);
            ssize_t r1 = send_fn(data.data(), len);
            if (r1 == kSlowPath) r1 = device.a.udp().send_to(*snap->socket, data.data(), len, nullptr);
            device.a.flush_all();
            ASSERT_EQ(r0, r1) << "len " << len;
            auto frames = generic.take_frames();
            ASSERT_EQ(frames, device.take_frames()) << "scenario " << n << " len " << len;
            compared += frames.size();
        }
        ASSERT_EQ(0, std::memcmp(generic.a.stats().counters, device.a.stats().counters, sizeof generic.a.stats().counters));
        std::printf("udp scenario %d: %zu bytes of image, %zu of code, compile %.1f ms, link %.2f ms\n", n,
                    image->bytes.size(), image->code_bytes, object->total_ms, image->link_ms);
    }
    EXPECT_GT(compared, size_t(kScenarios * kSends / 2));
}

TEST_F(RemoteLink, TcpMessageFramesEqualTheGenericPaths) {
    CodeBuffer buffer;
    ASSERT_NE(buffer.base, nullptr);
    WorldConfig config;
    World generic(config), device(config);
    auto [fa0, fb0] = generic.tcp_connection(40000, 80);
    auto [fa1, fb1] = device.tcp_connection(40000, 80);
    ASSERT_GE(fb0, 0);
    ASSERT_GE(fb1, 0);
    constexpr uint32_t kAdu = 3000;  // three segments at MSS 1448 (1460 less timestamps)
    // Without TCP_NODELAY Nagle holds the short last segment: that send is the
    // general path's, and the specialized code is nothing but the checks.
    int nodelay = 1;
    ASSERT_EQ(setsockopt(generic.a, fa0, kIpProtoTcp, kTcpNodelay, &nodelay, sizeof nodelay), 0);
    ASSERT_EQ(setsockopt(device.a, fa1, kIpProtoTcp, kTcpNodelay, &nodelay, sizeof nodelay), 0);
    auto snap = freeze_tcp_send(device.a, fa1, kAdu);
    ASSERT_TRUE(snap) << snap.error().message;
    auto object = compiler->compile(SendPath::tcp, bytes_of(snap->context));
    ASSERT_TRUE(object) << object.error().message;
    auto image = compiler->link(*object, buffer.address(), kBufferBytes, symbols_of(jit::tcp_entry_point()));
    ASSERT_TRUE(image) << image.error().message;
    SendFn send_fn = buffer.install(*image);
    ASSERT_NE(send_fn, nullptr);
    std::printf("tcp: %zu bytes of image, %zu of code, compile %.1f ms, link %.2f ms\n", image->bytes.size(),
                image->code_bytes, object->total_ms, image->link_ms);

    std::vector<uint8_t> data(kAdu), sink(1 << 16);
    int straight = 0;
    for (int i = 0; i < 20; ++i) {
        for (size_t k = 0; k < data.size(); ++k) data[k] = static_cast<uint8_t>(i * 31 + k);
        ssize_t r0 = send(generic.a, fa0, data.data(), kAdu);
        ssize_t r1 = send_fn(data.data(), kAdu);
        if (r1 == kSlowPath) r1 = device.a.tcp().send(*snap->socket, data.data(), kAdu);
        else ++straight;
        device.a.flush_all();
        ASSERT_EQ(r0, r1);
        ASSERT_EQ(generic.settle(), device.settle()) << "send " << i;
        // The peers read, so the window stays open and the code keeps sending straight.
        while (recv(generic.b, fb0, sink.data(), sink.size()) > 0) {}
        while (recv(device.b, fb1, sink.data(), sink.size()) > 0) {}
    }
    EXPECT_GT(straight, 10);
}

TEST_F(RemoteLink, RefusesWhatItCannotLinkWithTheReason) {
    WorldConfig config;
    World device(config);
    int fd = device.connected_socket(5000, config.addr_b, 7);
    ASSERT_GE(fd, 0);
    auto snap = freeze_udp_send(device.a, fd, std::nullopt);
    ASSERT_TRUE(snap);
    auto context = bytes_of(snap->context);

    auto short_context = compiler->compile(SendPath::udp, context.first(context.size() - 8));
    ASSERT_FALSE(short_context);
    EXPECT_EQ(short_context.error().code, EINVAL);

    auto object = compiler->compile(SendPath::udp, context);
    ASSERT_TRUE(object);
    auto symbols = symbols_of(jit::udp_entry_point());
    std::vector<DeviceSymbol> without_door;
    for (const DeviceSymbol& s : symbols)
        if (s.name != "quasi_interface_transmit") without_door.push_back(s);
    auto unknown = compiler->link(*object, 0x10000, kBufferBytes, without_door);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, ENOENT);
    EXPECT_NE(unknown.error().message.find("quasi_interface_transmit"), std::string::npos) << unknown.error().message;

    auto small = compiler->link(*object, 0x10000, 64, symbols);
    ASSERT_FALSE(small);
    EXPECT_EQ(small.error().code, EFBIG) << small.error().message;

    auto wrapping = compiler->link(*object, ~uint64_t(0) - 100, kBufferBytes, symbols);
    ASSERT_FALSE(wrapping);
    EXPECT_EQ(wrapping.error().code, EINVAL);

    auto nowhere = TargetCompiler::create("mips-linux-gnu");
    ASSERT_FALSE(nowhere);
    EXPECT_EQ(nowhere.error().code, ENOENT);
}

// The other targets: their bitcode loads, their layouts are theirs (4-byte pointers
// on the board), and code compiles and links for a device address. The contexts
// are real ones (a UDP socket with a declared 64-byte message, a TCP connection
// with one full segment per message) whose fields before the pointers, laid out
// alike on every target (udp_context.hpp, tcp_context.hpp), are copied, with made-up
// device addresses after them: the code is not run here, its size is what a device
// of that target would get.
TEST(RemoteTargets, EveryTargetCompilesAndLinksAtADeviceAddress) {
    WorldConfig config;
    World world(config);
    int udp_fd = world.connected_socket(5001, config.addr_b, 7);
    auto udp = freeze_udp_send(world.a, udp_fd, 64u);
    ASSERT_TRUE(udp) << udp.error().message;
    auto [tcp_fd, peer] = world.tcp_connection(40001, 80);
    ASSERT_GE(peer, 0);
    auto tcp = freeze_tcp_send(world.a, tcp_fd, world.a.tcp().data_mss(*world.a.descriptors().tcp(tcp_fd)));
    ASSERT_TRUE(tcp) << tcp.error().message;

    for (std::string_view triple : jit::remote::supported_targets()) {
        SCOPED_TRACE(std::string(triple));
        auto c = TargetCompiler::create(triple);
        ASSERT_TRUE(c) << c.error().message;
        TargetCompiler& compiler = **c;
        // As quasi-specd's compile threads do before it listens: the compiles below
        // are a warm daemon's cold requests (their phases are the README's).
        auto warm = compiler.warm_up();
        ASSERT_TRUE(warm) << warm.error().message;
        const bool board = triple == "thumbv7m-none-eabi";
        EXPECT_EQ(compiler.pointer_bytes(), board ? 4u : 8u);
        EXPECT_EQ(compiler.context_size(SendPath::udp), board ? 60u : 88u);  // udp_context.hpp's asserts
        EXPECT_EQ(compiler.context_size(SendPath::tcp), board ? 76u : 104u);
        for (SendPath path : {SendPath::udp, SendPath::tcp}) {
            auto context =
                device_context(compiler, path, path == SendPath::udp ? bytes_of(udp->context) : bytes_of(tcp->context));
            auto object = compiler.compile(path, context);
            ASSERT_TRUE(object) << object.error().message;
            auto symbols = device_symbols(triple, path);
            uint64_t code_address = device_code_address(triple);
            auto image = compiler.link(*object, code_address, 16384, symbols);
            ASSERT_TRUE(image) << image.error().message;
            EXPECT_EQ(image->thumb, board);
            EXPECT_LT(image->entry_offset, image->bytes.size());
            std::printf("%s %s: image %zu bytes (code %zu), compile %.1f ms (clone %.1f, fold %.1f, optimize %.1f, "
                        "codegen %.1f), link %.2f ms\n",
                        std::string(triple).c_str(), path == SendPath::udp ? "udp 64 B" : "tcp 1 segment",
                        image->bytes.size(), image->code_bytes, object->total_ms, object->clone_ms, object->fold_ms,
                        object->optimize_ms, object->codegen_ms, image->link_ms);
        }
    }
}

}  // namespace
}  // namespace quasi::test
