// Send handles (the guards and the hot path) and the process-wide specializer.
#include "jit/specialize.hpp"

#include "context/quasi_invariant.hpp"
#include "jit/specializer.hpp"
#include "stack/stack.hpp"

#include <array>
#include <initializer_list>
#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace quasi {

using jit::CodeEntry;
using jit::EntryState;
using jit::Specializer;

namespace detail {

using SendFn = ssize_t (*)(const uint8_t*, size_t);

// One handle: the watcher over the invariants its code froze, the code it runs and
// the generic path it falls back to. UDP or TCP by the descriptor's kind, fixed at
// creation; the protocol decides what is frozen, watched and fallen back to.
struct HandleState final : InvariantWatcher {
    enum class Mode { wait, background };
    enum class Proto : uint8_t { udp, tcp };
    // After a failed re-specialization, try again after this many generic sends (or
    // at the next invariant change): at once while the neighbour is being resolved
    // (ARP resolution is not an invariant change), rarely for the rest (disconnected).
    static constexpr uint32_t kRetryAfterSends = 64;
    static uint32_t retry_after(int error) { return error == EHOSTUNREACH ? 1 : kRetryAfterSends; }

    HandleState(Stack& s, int descriptor, Proto p, const SpecOptions& o)
        : stack(&s), fd(descriptor), proto(p), options(o) {}
    ~HandleState() { drop_entry(); }

    // What one extraction gives, for either protocol.
    struct Frozen {
        FrozenUdpContext udp{};
        FrozenTcpContext tcp{};
        UdpContextKey udp_key;
        TcpContextKey tcp_key;
        std::string_view key;  // into udp_key or tcp_key
        void* socket = nullptr;
        Interface* iface = nullptr;
        uint64_t arp_generation = 0;
    };

    void invariant_changed() override;
    std::optional<Error> freeze(Frozen& f);
    std::optional<Error> install(Mode mode);
    void watch();
    void poll_entry();
    void drop_entry();
    bool socket_gone() const;
    bool guards_hold() { return entry && entry->guard == 0 && !violated && iface->arp().generation() == arp_generation; }
    ssize_t generic_send(const uint8_t* data, size_t len);
    ssize_t slow_send(const uint8_t* data, size_t len, bool code_declined);

    Stack* stack;
    int fd;
    Proto proto;
    SpecOptions options;
    UdpSocket* udp_socket = nullptr;
    TcpSocket* tcp_socket = nullptr;
    Interface* iface = nullptr;
    SendFn fn = nullptr;          // the installed code, once ready and while guards hold
    CodeEntry* entry = nullptr;   // the code this handle uses (one user of it)
    uint64_t arp_generation = 0;  // of iface's ARP cache when the context was taken
    bool violated = false;        // a watched invariant changed since
    bool closed = false;
    uint32_t retry_countdown = 0;
    int last_error = 0;
    uint64_t installs = 0;
    uint64_t specialized_sends = 0;
    uint64_t generic_sends = 0;
    std::array<GuardLink, 11> links;
};

void HandleState::invariant_changed() {
    violated = true;
    fn = nullptr;
    if (entry) entry->guard = 1;  // for every handle sharing this code
    // UdpLayer::close clears the addresses after marking the socket free; a TCP
    // socket's invariants notify when its slot is reused (TcpLayer::alloc_socket).
    if (socket_gone()) closed = true;
    retry_countdown = 0;  // a handle without code tries again at its next send
}

// The socket this handle was made for is no longer behind its descriptor.
// TcpLayer::close gives the descriptor up (fd = -1) while the connection finishes
// in the background: nothing to watch there, so TCP compares at each general send.
bool HandleState::socket_gone() const {
    if (udp_socket) return !udp_socket->in_use;
    if (tcp_socket) return !tcp_socket->in_use || tcp_socket->fd != fd;
    return false;
}

void HandleState::watch() {
    size_t i = 0;
    auto watch_all = [&](std::initializer_list<InvariantBase*> invariants) {
        for (InvariantBase* inv : invariants) inv->watch(links[i++], *this);
    };
    if (proto == Proto::udp) {
        UdpSocket* s = udp_socket;
        watch_all({&s->local_addr, &s->local_port, &s->remote_addr, &s->remote_port, &s->ttl, &s->tos,
                   &s->checksum_enabled, &s->dont_fragment});
    } else {
        // The MSS: lowered by PMTU discovery (RFC 1191) or set with TCP_MAXSEG.
        TcpSocket* s = tcp_socket;
        watch_all({&s->local_addr, &s->local_port, &s->remote_addr, &s->remote_port, &s->ttl, &s->tos, &s->nodelay,
                   &s->snd_mss});
    }
    watch_all({&stack->routes().version, &iface->mtu, &stack->path_mtu().version});
}

void HandleState::poll_entry() {
    if (fn || !entry || violated) return;
    EntryState state = entry->state.load(std::memory_order_acquire);
    if (state == EntryState::ready) {
        fn = reinterpret_cast<SendFn>(entry->function.load(std::memory_order_acquire));
        ++installs;
    } else if (state == EntryState::failed) {
        last_error = entry->error.code;
        drop_entry();
        retry_countdown = retry_after(last_error);
    }
}

void HandleState::drop_entry() {
    fn = nullptr;
    if (!entry) return;
    CodeEntry* e = entry;
    entry = nullptr;
    Specializer::instance().release(e);
}

std::optional<Error> HandleState::freeze(Frozen& f) {
    if (proto == Proto::udp) {
        auto snap = freeze_udp_send(*stack, fd, options.message_size);
        if (!snap) return std::move(snap).error();
        f.udp = snap->context;
        f.udp_key = context_key(f.udp);
        f.key = f.udp_key.view();
        f.socket = snap->socket;
        f.iface = f.udp.iface;
        f.arp_generation = snap->arp_generation;
    } else {
        auto snap = freeze_tcp_send(*stack, fd, options.message_size);
        if (!snap) return std::move(snap).error();
        f.tcp = snap->context;
        f.tcp_key = context_key(f.tcp);
        f.key = f.tcp_key.view();
        f.socket = snap->socket;
        f.iface = f.tcp.iface;
        f.arp_generation = snap->arp_generation;
    }
    return std::nullopt;
}

std::optional<Error> HandleState::install(Mode mode) {
    Frozen f;
    if (auto error = freeze(f)) return error;
    void* current = proto == Proto::udp ? static_cast<void*>(udp_socket) : static_cast<void*>(tcp_socket);
    if (current && f.socket != current) {
        closed = true;
        return Error{EBADF, "the descriptor names another socket now"};
    }
    Specializer& sp = Specializer::instance();
    bool created = false;
    auto acquired = sp.acquire(f.key, created);
    if (!acquired) return std::move(acquired).error();
    CodeEntry* e = *acquired;

    drop_entry();  // the replaced code: its last user's release makes it evictable
    entry = e;
    if (proto == Proto::udp)
        udp_socket = static_cast<UdpSocket*>(f.socket);
    else
        tcp_socket = static_cast<TcpSocket*>(f.socket);
    iface = f.iface;
    arp_generation = f.arp_generation;
    violated = false;
    watch();
    if (created) {
        f.udp.guard = &e->guard;
        f.tcp.guard = &e->guard;
        const jit::EntryPoint& path = proto == Proto::udp ? jit::udp_entry_point() : jit::tcp_entry_point();
        const void* context = proto == Proto::udp ? static_cast<const void*>(&f.udp) : static_cast<const void*>(&f.tcp);
        if (mode == Mode::wait)
            sp.compile(e, path, context, jit::to_pipeline(options.pipeline));
        else
            sp.enqueue_compile(e, path, context, jit::to_pipeline(options.pipeline));
    } else if (mode == Mode::wait) {
        sp.wait(e, 60000);
    }
    if (mode == Mode::wait) {
        EntryState state = e->state.load(std::memory_order_acquire);
        if (state != EntryState::ready) {
            Error error = state == EntryState::failed ? e->error : Error{EAGAIN, "the compile did not finish in time"};
            drop_entry();
            return error;
        }
    }
    poll_entry();
    return std::nullopt;
}

// The general path: what send() does after the descriptor lookup.
ssize_t HandleState::generic_send(const uint8_t* data, size_t len) {
    ++generic_sends;
    if (proto == Proto::udp) return stack->udp().send_to(*udp_socket, data, len, nullptr);
    return stack->tcp().send(*tcp_socket, data, len);
}

ssize_t HandleState::slow_send(const uint8_t* data, size_t len, bool code_declined) {
    if (!closed && socket_gone()) closed = true;
    if (closed) return -EBADF;
    if (!code_declined) {
        bool stale = violated || !entry || entry->guard != 0 || iface->arp().generation() != arp_generation;
        if (stale) {
            violated = true;
            fn = nullptr;
            if (entry) entry->guard = 1;  // the ARP change, for every handle sharing this code
            if (options.on_violation == ViolationPolicy::reject) return -ESTALE;
            // Re-specialize: a cache hit installs at once, a miss compiles in the
            // background while this and later calls take the generic path.
            if (entry || retry_countdown == 0 || --retry_countdown == 0) {
                if (auto error = install(Mode::background)) {
                    last_error = error->code;
                    if (error->code == EBADF) return -EBADF;
                    drop_entry();
                    retry_countdown = retry_after(error->code);
                }
            }
        } else {
            poll_entry();  // an async compile may have finished
        }
        if (fn) {
            ssize_t rc = fn(data, len);
            if (rc != kSlowPath) {
                ++specialized_sends;
                return rc;
            }
        }
    }
    if (options.message_size && len != *options.message_size && options.on_violation == ViolationPolicy::reject)
        return -EMSGSIZE;
    return generic_send(data, len);
}

}  // namespace detail

// ---- SendHandle ----

SendHandle::SendHandle(std::unique_ptr<detail::HandleState> state) : state_(std::move(state)) {}
SendHandle::SendHandle() = default;
SendHandle::SendHandle(SendHandle&&) noexcept = default;
SendHandle& SendHandle::operator=(SendHandle&& other) noexcept {
    if (this != &other) {
        release();
        state_ = std::move(other.state_);
    }
    return *this;
}
SendHandle::~SendHandle() { release(); }

ssize_t SendHandle::send(const void* data, size_t len) {
    detail::HandleState* h = state_.get();
    if (!h) return -EBADF;
    const auto* bytes = static_cast<const uint8_t*>(data);
    if (!bytes && len > 0) return -EFAULT;
    ssize_t rc;
    // The guard at entry: the code reads its guard word (socket options, addresses,
    // route, MTU: set by the watcher) and the handle compares the ARP generation.
    if (h->fn && h->iface->arp().generation() == h->arp_generation) {
        rc = h->fn(bytes, len);
        if (rc != kSlowPath)
            ++h->specialized_sends;
        else
            rc = h->slow_send(bytes, len, true);
    } else {
        rc = h->slow_send(bytes, len, false);
    }
    if (h->options.flush) h->stack->flush_all();
    return rc;
}

void SendHandle::release() { state_.reset(); }

int SendHandle::respecialize() {
    detail::HandleState* h = state_.get();
    if (!h) return -EBADF;
    if (h->closed) return -EBADF;
    if (auto error = h->install(detail::HandleState::Mode::wait)) {
        h->last_error = error->code;
        return -error->code;
    }
    return 0;
}

bool SendHandle::ready() const {
    detail::HandleState* h = state_.get();
    if (!h || h->closed) return false;
    h->poll_entry();
    return h->fn && h->guards_hold();
}

bool SendHandle::wait_ready(uint32_t timeout_ms) {
    detail::HandleState* h = state_.get();
    if (!h) return false;
    if (h->entry) Specializer::instance().wait(h->entry, timeout_ms);
    return ready();
}

SendHandleInfo SendHandle::info() const {
    SendHandleInfo info;
    detail::HandleState* h = state_.get();
    if (!h) return info;
    h->poll_entry();
    info.specialized = !h->closed && h->fn && h->guards_hold();
    info.compiling = h->entry && h->entry->state.load(std::memory_order_acquire) == EntryState::compiling;
    info.installs = h->installs;
    info.specialized_sends = h->specialized_sends;
    info.generic_sends = h->generic_sends;
    info.last_error = h->last_error;
    if (h->entry && h->fn) {
        info.code_version = h->entry->serial;
        info.code_bytes = h->entry->code_bytes;
        info.object_bytes = h->entry->object_bytes;
        info.compile_ms = h->entry->compile_ms;
        info.code = reinterpret_cast<const void*>(h->fn);
    }
    return info;
}

namespace {
// The protocol of a handle: the descriptor's kind.
Expected<detail::HandleState::Proto> proto_of(Stack& stack, int fd) {
    using Proto = detail::HandleState::Proto;
    if (stack.descriptors().udp(fd)) return Proto::udp;
    if (stack.descriptors().tcp(fd)) return Proto::tcp;
    return make_error(EBADF, "descriptor is not an open UDP or TCP socket");
}

Expected<std::unique_ptr<detail::HandleState>> make_state(Stack& stack, int fd, const SpecOptions& options,
                                                           detail::HandleState::Mode mode) {
    auto proto = proto_of(stack, fd);
    if (!proto) return std::move(proto).error();
    auto state = std::make_unique<detail::HandleState>(stack, fd, *proto, options);
    if (auto error = state->install(mode)) return std::move(*error);
    return state;
}
}  // namespace

Expected<SendHandle> specialize_send(Stack& stack, int fd, const SpecOptions& options) {
    auto state = make_state(stack, fd, options, detail::HandleState::Mode::wait);
    if (!state) return std::move(state).error();
    return SendHandle(std::move(*state));
}

Expected<SendHandle> specialize_send_async(Stack& stack, int fd, const SpecOptions& options) {
    auto state = make_state(stack, fd, options, detail::HandleState::Mode::background);
    if (!state) return std::move(state).error();
    return SendHandle(std::move(*state));
}

void configure_specializer(const SpecializerConfig& config) { Specializer::instance().configure(config); }
SpecializerStats specializer_stats() { return Specializer::instance().stats(); }
void specializer_wait_idle() { Specializer::instance().wait_idle(); }
void prewarm_specializer() { Specializer::instance().prewarm(); }

// ---- the specializer ----

namespace jit {

Pipeline to_pipeline(JitPipeline p) {
    return p == JitPipeline::default_o2 ? Pipeline::default_o2 : Pipeline::short_pipeline;
}

Specializer& Specializer::instance() {
    // Destroyed at exit (joining the compile thread) before LLVM's own statics.
    static Specializer specializer;
    return specializer;
}

Specializer::Specializer() {
    // Objects for inspection without touching code: QUASI_JIT_DUMP_DIR=/tmp/jit.
    if (const char* dir = std::getenv("QUASI_JIT_DUMP_DIR")) engine_options_.dump_dir = dir;
    if (const char* level = std::getenv("QUASI_JIT_CODEGEN")) engine_options_.fast_codegen = std::string(level) == "less";
    if (const char* passes = std::getenv("QUASI_JIT_PASSES")) engine_options_.passes = passes;
    if (const char* args = std::getenv("QUASI_JIT_LLVM_ARGS")) engine_options_.llvm_args = args;
    worker_ = std::thread([this] { run(); });
}

Specializer::~Specializer() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    work_.notify_all();
    worker_.join();
    std::lock_guard lock(engine_mutex_);
    engine_.reset();  // frees all code; the cache's entries go with it
}

Expected<CodeEntry*> Specializer::acquire(std::string_view key, bool& created) {
    std::vector<CodeEntry*> dead;
    CodeEntry* entry;
    {
        std::lock_guard lock(mutex_);
        entry = cache_.acquire(key, created);
        if (!entry) return make_error(ENOSPC, "the code cache is full of code in use");
        entry->guard = 0;  // the caller just took this very state from the live socket
        if (created) cache_.add_user(entry);
        dead = cache_.evict();
    }
    if (!dead.empty()) enqueue_destroy(std::move(dead));
    return entry;
}

void Specializer::release(CodeEntry* entry) {
    std::vector<CodeEntry*> dead;
    {
        std::lock_guard lock(mutex_);
        if (CodeEntry* gone = cache_.release(entry)) dead.push_back(gone);
        for (CodeEntry* e : cache_.evict()) dead.push_back(e);
    }
    if (!dead.empty()) enqueue_destroy(std::move(dead));
}

Expected<Engine*> Specializer::engine_locked() {
    if (engine_) return engine_.get();
    if (engine_error_) return *engine_error_;
    auto engine = Engine::create(engine_options_);
    if (!engine) {
        engine_error_ = std::make_unique<Error>(engine.error());
        return *engine_error_;
    }
    engine_ = std::move(*engine);
    return engine_.get();
}

void Specializer::compile(CodeEntry* entry, const EntryPoint& path, const void* context, Pipeline pipeline) {
    Expected<CompiledCode> code = Error{};
    {
        std::lock_guard lock(engine_mutex_);
        auto engine = engine_locked();
        code = engine ? (*engine)->compile(path, context, pipeline) : Expected<CompiledCode>(engine.error());
    }
    std::vector<CodeEntry*> dead;
    {
        std::lock_guard lock(mutex_);
        if (code) {
            entry->code_id = code->id;
            entry->code_bytes = code->code_bytes;
            entry->object_bytes = code->object_bytes;
            entry->compile_ms = code->total_ms;
            entry->function.store(code->function, std::memory_order_release);
            entry->state.store(EntryState::ready, std::memory_order_release);
            ++compiles_;
        } else {
            entry->error = code.error();
            entry->state.store(EntryState::failed, std::memory_order_release);
            ++failures_;
        }
        cache_.finished(entry);
        if (CodeEntry* gone = cache_.release(entry)) dead.push_back(gone);  // the compile's user
        for (CodeEntry* e : cache_.evict()) dead.push_back(e);
    }
    done_.notify_all();
    if (!dead.empty()) enqueue_destroy(std::move(dead));
}

void Specializer::enqueue_compile(CodeEntry* entry, const EntryPoint& path, const void* context, Pipeline pipeline) {
    {
        std::lock_guard lock(mutex_);
        Job job;
        job.entry = entry;
        job.path = &path;
        const auto* bytes = static_cast<const uint8_t*>(context);
        job.context.assign(bytes, bytes + path.context_size);
        job.pipeline = pipeline;
        queue_.push_back(std::move(job));
    }
    work_.notify_one();
}

void Specializer::enqueue_destroy(std::vector<CodeEntry*> dead) {
    {
        std::lock_guard lock(mutex_);
        Job job;
        job.dead = std::move(dead);
        queue_.push_back(std::move(job));
    }
    work_.notify_one();
}

void Specializer::destroy(std::vector<CodeEntry*>& dead) {
    {
        std::lock_guard lock(engine_mutex_);
        for (CodeEntry* e : dead)
            if (engine_ && e->code_id) engine_->free(e->code_id);
    }
    std::lock_guard lock(mutex_);
    for (CodeEntry* e : dead) {
        if (e->code_id) ++freed_;
        delete e;
    }
    dead.clear();
}

void Specializer::prewarm() {
    std::lock_guard lock(mutex_);
    if (prewarm_queued_) return;
    prewarm_queued_ = true;
    Job job;
    job.prewarm = true;
    queue_.push_back(std::move(job));
    work_.notify_one();
}

// A context of zeros is enough to run every stage (clone, passes, code generation,
// linking) over most of each path; the code is never called and is freed at once.
void Specializer::warm_up() {
    uint64_t compiled = 0;
    {
        std::lock_guard lock(engine_mutex_);
        auto engine = engine_locked();
        if (!engine) return;
        for (const EntryPoint* path : {&udp_entry_point(), &tcp_entry_point()}) {
            std::vector<uint8_t> zeros(path->context_size);
            auto code = (*engine)->compile(*path, zeros.data(), Pipeline::short_pipeline);
            if (!code) continue;
            (*engine)->free(code->id);
            ++compiled;
        }
    }
    std::lock_guard lock(mutex_);
    prewarmed_ += compiled;
}

void Specializer::run() {
    std::unique_lock lock(mutex_);
    while (true) {
        work_.wait(lock, [this] { return stop_ || (!queue_.empty() && !held_); });
        if (queue_.empty()) return;  // stopping (a hold does not outlive the process)
        Job job = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        lock.unlock();
        if (job.prewarm)
            warm_up();
        else if (job.entry)
            compile(job.entry, *job.path, job.context.data(), job.pipeline);
        else
            destroy(job.dead);
        lock.lock();
        busy_ = false;
        done_.notify_all();
    }
}

bool Specializer::wait(CodeEntry* entry, uint32_t timeout_ms) {
    std::unique_lock lock(mutex_);
    return done_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [entry] {
        return entry->state.load(std::memory_order_acquire) != EntryState::compiling;
    });
}

void Specializer::wait_idle() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void Specializer::hold_background(bool held) {
    {
        std::lock_guard lock(mutex_);
        held_ = held;
    }
    work_.notify_all();
}

void Specializer::configure(const SpecializerConfig& config) {
    std::vector<CodeEntry*> dead;
    {
        std::lock_guard lock(mutex_);
        cache_.set_limits(CacheLimits{config.cache_max_entries, config.cache_max_bytes});
        dead = cache_.evict();
    }
    {
        std::lock_guard lock(engine_mutex_);
        engine_options_.dump_dir = config.dump_objects_dir ? config.dump_objects_dir : "";
        if (engine_) engine_->set_dump_dir(engine_options_.dump_dir);
    }
    if (!dead.empty()) enqueue_destroy(std::move(dead));
}

SpecializerStats Specializer::stats() {
    SpecializerStats s;
    {
        std::lock_guard lock(mutex_);
        CacheStats c = cache_.stats();
        s.compiles = compiles_;
        s.compile_failures = failures_;
        s.cache_hits = c.hits;
        s.cache_misses = c.misses;
        s.evictions = c.evictions;
        s.code_freed = freed_;
        s.entries = c.entries;
        s.entries_in_use = c.in_use;
        s.cached_bytes = c.bytes;
        s.prewarmed = prewarmed_;
    }
    std::lock_guard lock(engine_mutex_);
    s.live_code = engine_ ? engine_->live() : 0;
    return s;
}

Expected<CompiledCode> Specializer::compile_uncached(const EntryPoint& path, const void* context, Pipeline pipeline) {
    std::lock_guard lock(engine_mutex_);
    auto engine = engine_locked();
    if (!engine) return engine.error();
    return (*engine)->compile(path, context, pipeline);
}

void Specializer::free_uncached(uint64_t id) {
    std::lock_guard lock(engine_mutex_);
    if (engine_) engine_->free(id);
}

}  // namespace jit
}  // namespace quasi
