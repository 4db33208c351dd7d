// The process-wide specializer behind specialize.hpp: the engine, the code cache and
// the background compile thread. Internal to jit/ (and its tests and benchmarks).
#pragma once

#include "context/tcp_context.hpp"
#include "context/udp_context.hpp"
#include "jit/code_cache.hpp"
#include "jit/engine.hpp"
#include "jit/specialize.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace quasi::jit {

Pipeline to_pipeline(JitPipeline p);

class Specializer final : public CodeOwner {
public:
    static Specializer& instance();
    ~Specializer();

    // The entry for a context key with one more user (the caller), or ENOSPC. On a
    // miss, `created` is set and the entry carries a second user: the compile's,
    // given back by compile()/enqueue_compile(). Re-arms the entry's guard word.
    Expected<CodeEntry*> acquire(std::string_view key, bool& created);
    void release(CodeEntry* entry);
    void release(PluggableCode* code) override { release(static_cast<CodeEntry*>(code)); }
    // Compiles `path` for the context at `context` (path.context_size bytes, its guard
    // pointer aimed at entry->guard) on the calling thread / on the background thread,
    // then publishes the code in the entry.
    void compile(CodeEntry* entry, const EntryPoint& path, const void* context, Pipeline pipeline);
    void enqueue_compile(CodeEntry* entry, const EntryPoint& path, const void* context, Pipeline pipeline);
    // Until the entry is no longer compiling or the timeout passes.
    bool wait(CodeEntry* entry, uint32_t timeout_ms);
    void wait_idle();
    void prewarm();  // queues one warm_up() per process
    // Test hook (tests/jit): while held, the background thread starts no queued job,
    // so an async handle provably sends through the generic path until the test lets
    // the compile run. Compiles on the caller's thread (specialize_send) are not held;
    // wait() and wait_idle() for held work block until the release.
    void hold_background(bool held);

    void configure(const SpecializerConfig& config);
    SpecializerStats stats();

    // For benchmarks: compiles a context bypassing the cache; free with free_uncached.
    Expected<CompiledCode> compile_uncached(const EntryPoint& path, const void* context, Pipeline pipeline);
    Expected<CompiledCode> compile_uncached(const FrozenUdpContext& context, Pipeline pipeline) {
        return compile_uncached(udp_entry_point(), &context, pipeline);
    }
    Expected<CompiledCode> compile_uncached(const FrozenTcpContext& context, Pipeline pipeline) {
        return compile_uncached(tcp_entry_point(), &context, pipeline);
    }
    void free_uncached(uint64_t id);

private:
    Specializer();
    struct Job {
        CodeEntry* entry = nullptr;  // compile this...
        const EntryPoint* path = nullptr;
        std::vector<uint8_t> context;
        Pipeline pipeline = Pipeline::short_pipeline;
        std::vector<CodeEntry*> dead;  // ...or free these
        bool prewarm = false;          // ...or warm the JIT up (prewarm())
    };
    void warm_up();
    void run();
    Expected<Engine*> engine_locked();
    void destroy(std::vector<CodeEntry*>& dead);  // frees code and entries (engine lock taken here)
    void enqueue_destroy(std::vector<CodeEntry*> dead);

    std::mutex mutex_;  // the cache, the queue, the counters
    std::condition_variable work_;
    std::condition_variable done_;
    CodeCache cache_;
    std::deque<Job> queue_;
    bool busy_ = false;
    bool stop_ = false;
    bool held_ = false;  // hold_background()
    bool prewarm_queued_ = false;
    uint64_t prewarmed_ = 0;
    uint64_t compiles_ = 0;
    uint64_t failures_ = 0;
    uint64_t freed_ = 0;

    std::mutex engine_mutex_;  // compiles and frees: held for milliseconds
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<Error> engine_error_;
    EngineOptions engine_options_;

    std::thread worker_;
};

}  // namespace quasi::jit
