// quasi-specd's resident compile state (jit/remote/server/): each compile thread
// keeps every target's parsed bitcode and clones it per request, and warms its
// compilers up at start-up. Neither may change the code a request gets:
//   - a compiler that has warmed up and compiled other contexts gives, for a
//     context, the object a freshly created compiler gives, byte for byte, on every
//     target and path;
//   - compile threads at once (each with its own compilers, as quasi-specd's) get a
//     lone compiler's objects;
//   - SpecService with several compile threads, asked for many contexts at once from
//     many threads (misses, then hits), answers each with the image a lone compiler
//     and link_image() give, byte for byte (the link orders the GOT's and stubs'
//     entries by name: target_compiler.cpp, order_synthetic_blocks).
#include "context/tcp_context.hpp"
#include "context/udp_context.hpp"
#include "jit/remote/proto/messages.hpp"
#include "jit/remote/server/spec_service.hpp"
#include "stack/tcp.hpp"
#include "tests/jit/jit_world.hpp"
#include "tests/remote/target_contexts.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <tuple>

namespace quasi::test {
namespace {

using jit::remote::CompiledObject;
using jit::remote::SendPath;
using jit::remote::TargetCompiler;
namespace proto = quasi::remote;

// This machine's frozen contexts: a UDP socket with a declared 64-byte message, a TCP
// connection with one full segment per message.
struct RealContexts {
    std::vector<uint8_t> udp, tcp;
    std::span<const uint8_t> of(SendPath path) const { return path == SendPath::udp ? udp : tcp; }
};

RealContexts real_contexts() {
    WorldConfig config;
    World world(config);
    RealContexts out;
    int udp_fd = world.connected_socket(5001, config.addr_b, 7);
    auto udp = freeze_udp_send(world.a, udp_fd, 64u);
    auto [tcp_fd, peer] = world.tcp_connection(40001, 80);
    if (!udp || peer < 0) return out;
    auto tcp = freeze_tcp_send(world.a, tcp_fd, world.a.tcp().data_mss(*world.a.descriptors().tcp(tcp_fd)));
    if (!tcp) return out;
    auto u = bytes_of(udp->context);
    auto t = bytes_of(tcp->context);
    out.udp.assign(u.begin(), u.end());
    out.tcp.assign(t.begin(), t.end());
    return out;
}

// Two made-up device contexts differ in where their pointers point.
constexpr uint64_t kBaseA = 0x20010000, kBaseB = 0x20080000;

TEST(RemoteResident, AUsedCompilerGivesTheObjectOfAFreshOne) {
    RealContexts real = real_contexts();
    ASSERT_FALSE(real.udp.empty());
    ASSERT_FALSE(real.tcp.empty());
    for (std::string_view triple : jit::remote::supported_targets()) {
        SCOPED_TRACE(std::string(triple));
        auto fresh = TargetCompiler::create(triple);
        auto used = TargetCompiler::create(triple);
        ASSERT_TRUE(fresh && used);
        auto warm = (*used)->warm_up();
        ASSERT_TRUE(warm) << warm.error().message;
        for (SendPath path : {SendPath::udp, SendPath::tcp}) {
            auto a = device_context(**fresh, path, real.of(path), kBaseA);
            auto b = device_context(**fresh, path, real.of(path), kBaseB);
            auto reference = (*fresh)->compile(path, a);
            ASSERT_TRUE(reference) << reference.error().message;
            auto other = (*used)->compile(path, b);
            ASSERT_TRUE(other) << other.error().message;
            auto again = (*used)->compile(path, a);
            ASSERT_TRUE(again) << again.error().message;
            // The contexts differ in the code (else the comparison below proves nothing).
            EXPECT_NE(other->object, reference->object);
            EXPECT_EQ(again->object, reference->object) << "the resident module changed across compiles";
            // The phases account for the compile (quasi-specd logs them).
            EXPECT_GT(again->clone_ms, 0);
            EXPECT_GT(again->fold_ms, 0);
            EXPECT_GE(again->optimize_ms, again->fold_ms);
            EXPECT_GT(again->codegen_ms, 0);
            EXPECT_LE(again->clone_ms + again->optimize_ms + again->codegen_ms, again->total_ms);
        }
    }
}

// Compile threads share LLVM's process-wide state (target registry, options, pass
// registrations) while each has its own compilers: three threads compiling every
// target's and path's contexts at once get a lone compiler's objects.
TEST(RemoteResident, ThreadsCompilingAtOnceGetALoneCompilersObjects) {
    RealContexts real = real_contexts();
    ASSERT_FALSE(real.udp.empty());
    struct Job {
        std::string triple;
        SendPath path;
        std::vector<uint8_t> context;
    };
    std::vector<Job> jobs;
    std::vector<std::vector<uint8_t>> reference;
    for (std::string_view triple : jit::remote::supported_targets()) {
        auto lone = TargetCompiler::create(triple);
        ASSERT_TRUE(lone);
        for (SendPath path : {SendPath::udp, SendPath::tcp}) {
            jobs.push_back({std::string(triple), path, device_context(**lone, path, real.of(path), kBaseB)});
            auto object = (*lone)->compile(path, jobs.back().context);
            ASSERT_TRUE(object) << object.error().message;
            reference.push_back(std::move(object->object));
        }
    }
    constexpr int kThreads = 3;
    std::vector<std::vector<std::vector<uint8_t>>> got(kThreads, std::vector<std::vector<uint8_t>>(jobs.size()));
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::map<std::string, std::unique_ptr<TargetCompiler>> mine;
            for (const Job& j : jobs)
                if (auto c = TargetCompiler::create(j.triple); c && !mine[j.triple]) mine[j.triple] = std::move(*c);
            while (!go) std::this_thread::yield();
            for (size_t i = 0; i < jobs.size(); ++i) {
                size_t k = (i + size_t(t) * 2) % jobs.size();  // each thread in another order
                if (auto object = mine[jobs[k].triple]->compile(jobs[k].path, jobs[k].context))
                    got[t][k] = std::move(object->object);
            }
        });
    }
    go = true;
    for (std::thread& t : threads) t.join();
    for (int t = 0; t < kThreads; ++t)
        for (size_t k = 0; k < jobs.size(); ++k)
            EXPECT_EQ(got[t][k], reference[k]) << "thread " << t << ": " << jobs[k].triple << " path "
                                               << int(jobs[k].path);
}

// One request of the concurrent test: its context and symbols own what the
// request's views point at.
struct Ask {
    std::string triple;
    SendPath path;
    std::vector<uint8_t> context;
    std::vector<jit::remote::DeviceSymbol> symbols;
    proto::SpecRequest request;
    std::vector<uint8_t> code[2];  // the miss's and the hit's
    uint32_t entry[2] = {};
    bool hit[2] = {};
};

TEST(RemoteResident, ConcurrentRequestsGetTheImageALoneCompilerGives) {
    RealContexts real = real_contexts();
    ASSERT_FALSE(real.udp.empty());
    jit::remote::ServiceConfig config;
    config.compile_threads = 2;
    auto service = jit::remote::SpecService::create(config);
    ASSERT_TRUE(service) << service.error().message;
    EXPECT_GT((*service)->stats().warm_up_us, 0u);  // every compile thread warmed up before create() returned

    // Every target and path, two contexts each: 12 distinct misses at once.
    std::map<std::string, std::unique_ptr<TargetCompiler>> lone;
    std::vector<std::unique_ptr<Ask>> asks;
    for (std::string_view triple : jit::remote::supported_targets()) {
        auto c = TargetCompiler::create(triple);
        ASSERT_TRUE(c);
        for (SendPath path : {SendPath::udp, SendPath::tcp}) {
            for (uint64_t base : {kBaseA, kBaseB}) {
                auto ask = std::make_unique<Ask>();
                ask->triple = std::string(triple);
                ask->path = path;
                ask->context = device_context(**c, path, real.of(path), base);
                ask->symbols = device_symbols(triple, path);
                proto::SpecRequest& r = ask->request;
                r.device_id = 7;
                r.nonce = asks.size() + 1;
                r.target = ask->triple;
                r.path = static_cast<proto::SendPath>(path);
                r.pointer_bytes = uint8_t((*c)->pointer_bytes());
                r.layout_tag = proto::layout_tag((*c)->layout_words(path));
                r.context = ask->context;
                r.code_address = device_code_address(triple);
                r.code_capacity = 16384;
                for (const auto& s : ask->symbols) r.symbols[r.symbol_count++] = {s.name, s.address};
                asks.push_back(std::move(ask));
            }
        }
        lone.emplace(std::string(triple), std::move(*c));
    }

    // Each request on its own thread, all released at once; each asks twice.
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (auto& ask : asks) {
        threads.emplace_back([&go, &s = **service, a = ask.get()] {
            while (!go) std::this_thread::yield();
            for (int i = 0; i < 2; ++i) {
                auto answer = s.answer(a->request);
                if (answer.status != proto::Status::ok) return;
                a->code[i] = std::move(answer.code);
                a->entry[i] = answer.entry_offset;
                a->hit[i] = answer.hit;
            }
        });
    }
    go = true;
    for (std::thread& t : threads) t.join();

    for (auto& ask : asks) {
        SCOPED_TRACE(ask->triple + (ask->path == SendPath::udp ? " udp" : " tcp"));
        auto object = lone[ask->triple]->compile(ask->path, ask->context);
        ASSERT_TRUE(object) << object.error().message;
        auto image = jit::remote::link_image(*object, ask->request.pointer_bytes, ask->request.code_address,
                                             ask->request.code_capacity, ask->symbols);
        ASSERT_TRUE(image) << image.error().message;
        for (int i = 0; i < 2; ++i) {
            EXPECT_EQ(ask->code[i], image->bytes) << "answer " << i;
            EXPECT_EQ(ask->entry[i], image->entry_offset);
        }
        EXPECT_FALSE(ask->hit[0]);
        EXPECT_TRUE(ask->hit[1]);
    }
    auto stats = (*service)->stats();
    EXPECT_EQ(stats.compiles, asks.size());
    EXPECT_EQ(stats.hits, asks.size());
    EXPECT_EQ(stats.compile_failures, 0u);
    EXPECT_GT(stats.codegen_us, 0u);
    EXPECT_LE(stats.clone_us + stats.optimize_us + stats.codegen_us, stats.compile_us);
}

}  // namespace
}  // namespace quasi::test
