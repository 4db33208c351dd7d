// What quasi-specd does with a spec request whose MAC checked (apps/quasi_specd.cpp
// owns the sockets, keys and framing): check it against the target, answer from the
// object cache or queue a compile, link for the device's addresses, and count.
//
// Threads: answer() is called from any number of connection threads. A cache hit is
// linked on the caller's thread at once (no queue: a warm request costs the round
// trip and a link). A miss goes to a bounded queue served by `compile_threads`
// threads, each with its own TargetCompiler per target (LLVM state is per thread);
// the caller waits for its compile, then links. A full queue answers `busy`.
//
// Cold requests: every target's bitcode is parsed, pruned to its entry and kept
// resident in each compile thread's TargetCompiler, which clones it per request;
// create() returns once each thread has also warmed its compilers up (one made-up
// compile per target and path), so the first real miss costs a compile, not LLVM's
// one-time set-up.
#pragma once

#include "jit/remote/proto/messages.hpp"
#include "jit/remote/server/object_cache.hpp"
#include "jit/remote/server/target_compiler.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace quasi::jit::remote {

struct ServiceConfig {
    size_t cache_bytes = 16u << 20;
    unsigned compile_threads = 2;
    size_t queue_limit = 64;  // compiles waiting beyond the running ones
    bool warm_up = true;      // create() warms every compile thread's compilers
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
    // compile_us by phase (CompiledObject), and the time misses waited in the queue
    uint64_t queue_us = 0;
    uint64_t clone_us = 0;
    uint64_t fold_us = 0;
    uint64_t optimize_us = 0;  // fold_us included
    uint64_t codegen_us = 0;
    uint64_t warm_up_us = 0;  // at start-up, the slowest compile thread's
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
    // A miss's wait in the queue and its compile's phases (CompiledObject's)
    double queue_ms = 0, clone_ms = 0, fold_ms = 0, optimize_ms = 0, codegen_ms = 0;
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
    using Compilers = std::map<std::string, std::unique_ptr<TargetCompiler>, std::less<>>;

    explicit SpecService(const ServiceConfig& config);
    const TargetFacts* facts(std::string_view triple) const;
    SpecAnswer check(const quasi::remote::SpecRequest& request, const TargetFacts*& target) const;
    std::shared_ptr<const CompiledObject> compile_queued(const TargetFacts& target,
                                                         const quasi::remote::SpecRequest& request, SpecAnswer& answer);
    Expected<double> prepare(Compilers& compilers);
    void compile_loop(Compilers compilers);
    void run_thread(Compilers compilers);

    ServiceConfig config_;
    std::vector<TargetFacts> targets_;
    ObjectCache cache_;

    std::mutex mutex_;
    std::condition_variable work_;
    std::deque<std::shared_ptr<Job>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
    // Start-up: threads that finished prepare(), and the first failure.
    std::condition_variable ready_;
    unsigned threads_ready_ = 0;
    std::optional<Error> start_error_;

    std::atomic<uint64_t> requests_{0}, hits_{0}, misses_{0}, compiles_{0}, compile_failures_{0}, refusals_{0},
        busy_{0}, compile_us_{0}, queue_us_{0}, clone_us_{0}, fold_us_{0}, optimize_us_{0}, codegen_us_{0},
        warm_up_us_{0}, link_us_{0}, code_bytes_{0};
};

}  // namespace quasi::jit::remote
