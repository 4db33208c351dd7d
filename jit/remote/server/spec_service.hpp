// What quasi-specd does with a spec request whose MAC checked (apps/quasi_specd.cpp
// owns the sockets, keys and framing): check it against the target, answer from the
// object cache or queue a compile, link for the device's addresses, and count.
//
// Threads: answer() is called from any number of connection threads. A cache hit is
// linked on the caller's thread at once (no queue: a warm request costs the round
// trip and a link). A miss goes to a bounded queue served by `compile_threads`
// threads, each with its own TargetCompiler per target (LLVM state is per thread);
// the caller waits for its compile, then links. A full queue answers `busy`.
#pragma once

#include "jit/remote/proto/messages.hpp"
#include "jit/remote/server/object_cache.hpp"
#include "jit/remote/server/target_compiler.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace quasi::jit::remote {

struct ServiceConfig {
    size_t cache_bytes = 16u << 20;
    unsigned compile_threads = 2;
    size_t queue_limit = 64;  // compiles waiting beyond the running ones
};

// The figures of the stats reply (names as sent) and of the daemon's log.
struct ServiceStats {
    uint64_t requests = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t compiles = 0;
    uint64_t compile_failures = 0;
    uint64_t refusals = 0;  // replies with a status other than ok, busy included
    uint64_t busy = 0;
    uint64_t compile_us = 0;  // summed over compiles
    uint64_t link_us = 0;     // summed over links
    uint64_t code_bytes = 0;  // sent in ok replies
    uint64_t cache_bytes = 0;
    uint64_t cache_entries = 0;
    uint64_t cache_evictions = 0;
};

struct SpecAnswer {
    quasi::remote::Status status = quasi::remote::Status::ok;
    std::string message;  // why, when not ok
    std::vector<uint8_t> code;
    uint32_t entry_offset = 0;  // without the Thumb bit
    uint64_t symbol_hash = 0;
    bool hit = false;
    double compile_ms = 0;  // 0 on a hit
    double link_ms = 0;
};

class SpecService {
public:
    // Loads every target's bitcode once to learn its layouts (fails if one cannot).
    static Expected<std::unique_ptr<SpecService>> create(const ServiceConfig& config);
    ~SpecService();  // stop(), then joins the compile threads
    SpecService(const SpecService&) = delete;
    SpecService& operator=(const SpecService&) = delete;

    // Thread-safe; blocks until the answer is known.
    SpecAnswer answer(const quasi::remote::SpecRequest& request);
    ServiceStats stats() const;
    // Refuses queued and later requests (`internal`, "shutting down"); compiles
    // already running finish.
    void stop();

private:
    struct Layout {
        size_t context_size = 0;
        uint32_t layout_tag = 0;
    };
    struct TargetFacts {
        std::string triple;
        unsigned pointer_bytes = 0;
        Layout udp, tcp;
    };
    struct Job;

    explicit SpecService(const ServiceConfig& config);
    const TargetFacts* facts(std::string_view triple) const;
    SpecAnswer check(const quasi::remote::SpecRequest& request, const TargetFacts*& target) const;
    std::shared_ptr<const CompiledObject> compile_queued(const TargetFacts& target,
                                                         const quasi::remote::SpecRequest& request, SpecAnswer& answer);
    void compile_loop();

    ServiceConfig config_;
    std::vector<TargetFacts> targets_;
    ObjectCache cache_;

    std::mutex mutex_;
    std::condition_variable work_;
    std::deque<std::shared_ptr<Job>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;

    std::atomic<uint64_t> requests_{0}, hits_{0}, misses_{0}, compiles_{0}, compile_failures_{0}, refusals_{0},
        busy_{0}, compile_us_{0}, link_us_{0}, code_bytes_{0};
};

}  // namespace quasi::jit::remote
