// Send handles (the guards and the hot path) and the process-wide specializer.
#include "jit/specialize.hpp"

#include "guards/handle_guard.hpp"
#include "guards/modes.hpp"
#include "guards/verify.hpp"
#include "jit/specializer.hpp"
#include "stack/stack.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/udp.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace quasi {

using jit::CodeEntry;
using jit::EntryState;
using jit::Specializer;

// The handle's check at entry (guards/guard_word.hpp's QUASI_NO_GUARD_CHECK: the
// bench build that measures the guards' cost compiles it out with the code's own).
#ifdef QUASI_NO_GUARD_CHECK
constexpr bool kEntryCheck = false;
#else
constexpr bool kEntryCheck = true;
#endif

namespace detail {

using SendFn = ssize_t (*)(const uint8_t*, size_t);

// One handle: the code it runs (through its replugger), its guard (guards/), and the
// generic path it falls back to. UDP or TCP by the descriptor's kind, fixed at
// creation; the protocol decides what is frozen, watched and fallen back to.
struct HandleState {
    enum class Mode { wait, background };
    using Proto = HandleGuard::Proto;
    using Verdict = HandleGuard::Verdict;
    // After a failed re-specialization, try again after this many generic sends (or
    // at the next invariant change): at once while the neighbour is being resolved
    // (ARP resolution is not an invariant change), rarely for the rest (disconnected).
    static constexpr uint32_t kRetryAfterSends = 64;
    static uint32_t retry_after(int error) { return error == EHOSTUNREACH ? 1 : kRetryAfterSends; }

    HandleState(Stack& s, int descriptor, Proto p, const SpecOptions& o)
        : stack(&s), fd(descriptor), proto(p), options(o), plug(Specializer::instance()),
          guard(s, descriptor, p, o.on_violation, plug), modes(guard_modes().any()),
          random_state(guard_modes().seed * 0x9E3779B97F4A7C15ull + uint64_t(descriptor) + 1) {}

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

    std::optional<Error> freeze(Frozen& f);
    std::optional<Error> install(Mode mode, bool keep_running = false);
    StaleCode describe(const Frozen& f, uint64_t version) const;
    void poll();
    void replugged();
    SendFn code() const { return reinterpret_cast<SendFn>(plug.function()); }
    bool guards_hold() const {
        return plug.function() && !guard.violated() && plug.running()->guard.holds() && guard.arp_holds();
    }
    ssize_t generic_send(const uint8_t* data, size_t len);
    ssize_t slow_send(const uint8_t* data, size_t len, bool code_declined);
    void respecialize_in_background(bool keep_running);
    ssize_t reinforced_send(const uint8_t* data, size_t len);
    void apply_modes();
    void verify();

    Stack* stack;
    int fd;
    Proto proto;
    SpecOptions options;
    Replugger plug;    // before guard: the guard points at it
    HandleGuard guard;
    StaleCode running_code;  // what the running version was made for (its rule's input)
    StaleCode pending_code;  // ... and the pending one
    uint64_t replugs_seen = 0;
    Frozen running_frozen;  // the context the running version was compiled for (verify mode)
    Frozen pending_frozen;
    bool modes;             // a checking mode is on (guards/modes.hpp)
    uint64_t mode_sends = 0;
    uint64_t random_state;
    uint32_t retry_countdown = 0;
    int last_error = 0;
    uint64_t specialized_sends = 0;
    uint64_t generic_sends = 0;
    std::optional<std::chrono::steady_clock::time_point> stale_since;  // the first stale send since the last replug
};

// Picks up code whose compile finished, unless a change since makes it stale.
void HandleState::poll() {
    // Stale code runs only through its rule: nothing to pick up but the new version
    // (and nothing at all before the rule for a change is made).
    if (guard.violated() || guard.reinforce_wanted() || (guard.rule() && !plug.pending())) return;
    switch (plug.poll()) {
    case Replugger::Poll::none:
    case Replugger::Poll::plugged:
        if (plug.replugs() != replugs_seen) replugged();
        break;
    case Replugger::Poll::failed:
        last_error = plug.error().code;
        retry_countdown = retry_after(last_error);
        break;
    }
}

// New code runs: the re-specialization's latency, from the violation it answers.
void HandleState::replugged() {
    replugs_seen = plug.replugs();
    if (plug.running()->serial == pending_code.version) {
        running_code = pending_code;
        running_frozen = pending_frozen;
    }
    guard.retire_rule();  // no code of the old version can run any more
    GuardStats& st = guard.stats();
    ++st.replugs;
    stack->stats().count(Counter::guard_replugs);
    if (!stale_since) return;
    auto ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - *stale_since).count());
    stale_since.reset();
    ++st.respecializations;
    st.respecialize_ns_total += ns;
    if (ns > st.respecialize_ns_max) st.respecialize_ns_max = ns;
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

StaleCode HandleState::describe(const Frozen& f, uint64_t version) const {
    StaleCode c;
    c.version = version;
    if (proto == Proto::udp) {
        c.iface = f.udp.iface;
        c.src = f.udp.src;
        c.dst = f.udp.dst;
        c.src_port = f.udp.src_port;
        c.dst_port = f.udp.dst_port;
        c.dont_fragment = f.udp.dont_fragment;
        uint32_t largest = f.udp.message_size != FrozenUdpContext::kAnySize ? f.udp.message_size : f.udp.max_payload;
        c.max_datagram = static_cast<uint16_t>(largest + kIpv4MinHeaderLen + kUdpHeaderLen);
    } else {
        c.iface = f.tcp.iface;
        c.src = f.tcp.src;
        c.dst = f.tcp.dst;
        c.tcp = true;
    }
    return c;
}

std::optional<Error> HandleState::install(Mode mode, bool keep_running) {
    Frozen f;
    if (auto error = freeze(f)) return error;
    if (guard.socket() && f.socket != guard.socket()) {
        guard.mark_closed();
        return Error{EBADF, "the descriptor names another socket now"};
    }
    Specializer& sp = Specializer::instance();
    bool created = false;
    auto acquired = sp.acquire(f.key, created);
    if (!acquired) return std::move(acquired).error();
    CodeEntry* e = *acquired;

    guard.arm(f.socket, f.iface, f.arp_generation);
    // The replaced code: its last user's release makes it evictable. Kept running
    // (through its rule) until the new one is ready under reinforcement.
    StaleCode made = describe(f, e->serial);
    plug.plug(e, keep_running);
    if (plug.pending() == e) {
        pending_code = made;
        pending_frozen = f;
    } else {
        running_code = made;
        running_frozen = f;
    }
    if (plug.running() == e) guard.retire_rule();
    if (plug.replugs() != replugs_seen && !guard.violated()) replugged();  // a cache hit, plugged at once
    if (created) {
        f.udp.guard = e->guard.address();
        f.tcp.guard = e->guard.address();
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
            plug.unplug();
            return error;
        }
    }
    poll();
    return std::nullopt;
}

// A cache hit installs at once, a miss compiles in the background while this and
// later calls take the generic path (or, keep_running, the reinforced stale code).
void HandleState::respecialize_in_background(bool keep_running) {
    if (!stale_since) stale_since = std::chrono::steady_clock::now();
    if (!(plug.newest() && !keep_running) && retry_countdown != 0 && --retry_countdown != 0) return;
    if (auto error = install(Mode::background, keep_running)) {
        last_error = error->code;
        if (error->code == EBADF) return;
        if (!keep_running) plug.unplug();
        retry_countdown = retry_after(error->code);
    }
}

// ViolationPolicy::reinforce: the stale code runs, its frames through the egress
// rule, while the new version compiles; the replugger swaps it in (poll()).
ssize_t HandleState::reinforced_send(const uint8_t* data, size_t len) {
    if (guard.reinforce_wanted()) {
        StaleCode stale = running_code;
        if (proto == Proto::udp)
            stale.wildcard_source = static_cast<UdpSocket*>(guard.socket())->local_addr.get().is_unspecified();
        else {
            auto* socket = static_cast<TcpSocket*>(guard.socket());
            stack->tcp().clamp_mss_to_route(*socket);  // an interface MTU change lowers it too
            stale.live_mss = socket->snd_mss;
        }
        if (!guard.reinforce(stale)) return slow_send(data, len, false);  // now a plain violation
        retry_countdown = 0;
        respecialize_in_background(true);
        if (guard.closed()) return -EBADF;
    } else if (!plug.pending()) {
        respecialize_in_background(true);  // an earlier attempt failed (e.g. next hop unresolved)
    }
    poll();
    EgressRule* rule = guard.rule();
    auto fn = reinterpret_cast<SendFn>(rule ? plug.running_function() : plug.function());
    if (fn) {
        ssize_t rc;
        if (rule) {
            EgressScope scope(*rule);
            rc = fn(data, len);
        } else {
            rc = fn(data, len);
        }
        if (rc != kSlowPath) {
            ++specialized_sends;
            return rc;
        }
    }
    if (guard.reject_size(len, options.message_size ? &*options.message_size : nullptr)) return -EMSGSIZE;
    return generic_send(data, len);
}

// Verify and deopt stress (guards/modes.hpp), before the guard check at entry.
void HandleState::apply_modes() {
    const GuardModes& m = guard_modes();
    ++mode_sends;
    if (m.verify_every && mode_sends % m.verify_every == 0) verify();
    if (m.stress_every && next_random(random_state) % m.stress_every == 0) guard.force();
}

// While the guards say the running code may run as it is, the live socket must
// still be in the state it was compiled for.
void HandleState::verify() {
    if (!plug.function() || guard.violated() || guard.reinforce_wanted() || guard.rule() || !guard.arp_holds() ||
        !plug.running()->guard.holds())
        return;  // a guard fired: the code does not run as it is
    ++guard.stats().verified;
    Frozen live;
    const char* field = nullptr;
    if (auto error = freeze(live))
        field = error->message.c_str();
    else if (proto == Proto::udp)
        field = first_difference(running_frozen.udp, live.udp);
    else
        field = first_difference(running_frozen.tcp, live.tcp);
    if (!field) return;
    std::fprintf(stderr,
                 "quasi guards: verify mode: the %s handle on descriptor %d runs code version %llu for a context "
                 "whose field '%s' changed while no guard fired\n",
                 proto == Proto::udp ? "UDP" : "TCP", fd, (unsigned long long)plug.running()->serial, field);
    std::abort();
}

// The general path: what send() does after the descriptor lookup.
ssize_t HandleState::generic_send(const uint8_t* data, size_t len) {
    ++generic_sends;
    if (proto == Proto::udp) return stack->udp().send_to(*static_cast<UdpSocket*>(guard.socket()), data, len, nullptr);
    return stack->tcp().send(*static_cast<TcpSocket*>(guard.socket()), data, len);
}

ssize_t HandleState::slow_send(const uint8_t* data, size_t len, bool code_declined) {
    if (guard.closed() || guard.socket_gone()) {
        guard.mark_closed();
        return -EBADF;
    }
    // The code declined because its guard word was fired from elsewhere (another
    // handle of this code, a process-wide invalidation): the guard decides.
    if (code_declined && plug.running() && !plug.running()->guard.holds()) code_declined = false;
    if (!code_declined) {
        switch (guard.decide()) {
        case Verdict::closed:
            return -EBADF;
        case Verdict::reject:
            return -ESTALE;
        case Verdict::reinforce:
            return reinforced_send(data, len);
        case Verdict::respecialize:
            guard.retire_rule();
            respecialize_in_background(false);
            if (guard.closed()) return -EBADF;
            break;
        case Verdict::run:
            poll();  // an async compile may have finished
            break;
        }
        if (SendFn fn = code()) {
            ssize_t rc = fn(data, len);
            if (rc != kSlowPath) {
                ++specialized_sends;
                return rc;
            }
        }
    }
    if (guard.reject_size(len, options.message_size ? &*options.message_size : nullptr)) return -EMSGSIZE;
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
    if (kEntryCheck && h->modes) h->apply_modes();
    ssize_t rc;
    // The guard at entry: the code reads its guard word (socket options, addresses,
    // route, MTU: fired by guards/) and the handle compares the ARP generation.
    detail::SendFn fn = h->code();
    if (fn && (!kEntryCheck || h->guard.arp_holds())) {
        rc = fn(bytes, len);
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
    if (h->guard.closed()) return -EBADF;
    if (auto error = h->install(detail::HandleState::Mode::wait)) {
        h->last_error = error->code;
        return -error->code;
    }
    return 0;
}

bool SendHandle::ready() const {
    detail::HandleState* h = state_.get();
    if (!h || h->guard.closed()) return false;
    h->poll();
    return h->guards_hold();
}

bool SendHandle::wait_ready(uint32_t timeout_ms) {
    detail::HandleState* h = state_.get();
    if (!h) return false;
    if (PluggableCode* code = h->plug.newest())
        Specializer::instance().wait(static_cast<CodeEntry*>(code), timeout_ms);
    return ready();
}

SendHandleInfo SendHandle::info() const {
    SendHandleInfo info;
    detail::HandleState* h = state_.get();
    if (!h) return info;
    h->poll();
    info.specialized = !h->guard.closed() && h->guards_hold();
    PluggableCode* newest = h->plug.newest();
    info.compiling = newest && newest->state.load(std::memory_order_acquire) == EntryState::compiling;
    info.installs = h->plug.replugs();
    info.specialized_sends = h->specialized_sends;
    info.generic_sends = h->generic_sends;
    info.last_error = h->last_error;
    info.guards = h->guard.stats();
    info.guards.checks += h->specialized_sends;  // each passed the check at entry
    if (h->code()) {
        const auto* entry = static_cast<const CodeEntry*>(h->plug.running());
        info.code_version = entry->serial;
        info.code_bytes = entry->code_bytes;
        info.object_bytes = entry->object_bytes;
        info.compile_ms = entry->compile_ms;
        info.code = h->plug.function();
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
void invalidate_specializations() { Specializer::instance().invalidate_all(); }
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
        entry->guard.clear();  // the caller just took this very state from the live socket
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

void Specializer::invalidate_all() {
    std::lock_guard lock(mutex_);
    cache_.for_each([](CodeEntry& e) { e.guard.fire(); });
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
