#include "jit/remote/server/spec_service.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <future>

namespace quasi::jit::remote {

namespace proto = quasi::remote;

namespace {

SpecAnswer refuse(proto::Status status, std::string message) {
    SpecAnswer a;
    a.status = status;
    a.message = std::move(message);
    if (a.message.size() > proto::kMaxReplyText) a.message.resize(proto::kMaxReplyText);
    return a;
}

}  // namespace

// A compile waiting in the queue: what it needs from the request (owned: the
// request's views point into a buffer its connection reuses) and where the result goes.
struct SpecService::Job {
    const TargetFacts* target;
    SendPath path;
    std::vector<uint8_t> context;
    std::string key;
    std::chrono::steady_clock::time_point queued;
    double queue_ms = 0;  // set by the compile thread when it takes the job
    std::promise<Expected<std::shared_ptr<const CompiledObject>>> done;
};

SpecService::SpecService(const ServiceConfig& config) : config_(config), cache_(config.cache_bytes) {}

Expected<std::unique_ptr<SpecService>> SpecService::create(const ServiceConfig& config) {
    std::unique_ptr<SpecService> service(new SpecService(config));
    Compilers first;  // the compilers that read the layouts serve the first thread
    for (std::string_view triple : supported_targets()) {
        auto compiler = TargetCompiler::create(triple);
        if (!compiler) return std::move(compiler).error();
        TargetFacts facts{std::string(triple), (*compiler)->pointer_bytes(), {}, {}};
        for (SendPath path : {SendPath::udp, SendPath::tcp}) {
            Layout& l = path == SendPath::udp ? facts.udp : facts.tcp;
            l.context_size = (*compiler)->context_size(path);
            l.layout_tag = proto::layout_tag((*compiler)->layout_words(path));
        }
        service->targets_.push_back(std::move(facts));
        first.emplace(std::string(triple), std::move(*compiler));
    }
    const unsigned threads = std::max(1u, config.compile_threads);
    for (unsigned i = 0; i < threads; ++i)
        service->threads_.emplace_back(
            [s = service.get(), c = i == 0 ? std::move(first) : Compilers()]() mutable { s->run_thread(std::move(c)); });
    std::unique_lock lock(service->mutex_);
    service->ready_.wait(lock, [&] { return service->threads_ready_ == threads; });
    if (service->start_error_) return *service->start_error_;  // the destructor stops and joins the threads
    return service;
}

// A compile thread's compilers for every target, each warmed up if so configured;
// the time of the slowest warm-up.
Expected<double> SpecService::prepare(Compilers& compilers) {
    double warm_ms = 0;
    for (const TargetFacts& t : targets_) {
        auto& compiler = compilers[t.triple];
        if (!compiler) {
            auto created = TargetCompiler::create(t.triple);
            if (!created) return std::move(created).error();
            compiler = std::move(*created);
        }
        if (!config_.warm_up) continue;
        auto ms = compiler->warm_up();
        if (!ms) return Error{ms.error().code, t.triple + " warm-up: " + ms.error().message};
        warm_ms += *ms;
    }
    return warm_ms;
}

void SpecService::run_thread(Compilers compilers) {
    auto prepared = prepare(compilers);
    {
        std::lock_guard lock(mutex_);
        if (!prepared && !start_error_) start_error_ = prepared.error();
        if (prepared) warm_up_us_ = std::max<uint64_t>(warm_up_us_.load(), uint64_t(*prepared * 1000));
        ++threads_ready_;
    }
    ready_.notify_all();
    if (prepared) compile_loop(std::move(compilers));
}

SpecService::~SpecService() {
    stop();
    for (std::thread& t : threads_) t.join();
}

void SpecService::stop() {
    std::deque<std::shared_ptr<Job>> dropped;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        dropped.swap(queue_);
    }
    work_.notify_all();
    for (auto& job : dropped) job->done.set_value(make_error(ECANCELED, "the server is shutting down"));
}

const SpecService::TargetFacts* SpecService::facts(std::string_view triple) const {
    for (const TargetFacts& t : targets_)
        if (t.triple == triple) return &t;
    return nullptr;
}

// The request against the target it names: never the host's layout assumed.
SpecAnswer SpecService::check(const proto::SpecRequest& r, const TargetFacts*& target) const {
    target = facts(r.target);
    if (!target) return refuse(proto::Status::unknown_target, "no bitcode for target '" + std::string(r.target) + "'");
    if (r.path != proto::SendPath::udp && r.path != proto::SendPath::tcp)
        return refuse(proto::Status::bad_request, "unknown send path");
    if (r.pointer_bytes != target->pointer_bytes)
        return refuse(proto::Status::bad_context, target->triple + " has " + std::to_string(target->pointer_bytes) +
                                                      "-byte pointers, the request says " +
                                                      std::to_string(r.pointer_bytes));
    const Layout& l = r.path == proto::SendPath::udp ? target->udp : target->tcp;
    if (r.context.size() != l.context_size || r.layout_tag != l.layout_tag)
        return refuse(proto::Status::bad_context,
                      "context of " + std::to_string(r.context.size()) + " bytes, layout tag " +
                          std::to_string(r.layout_tag) + "; " + target->triple + " lays it out in " +
                          std::to_string(l.context_size) + " bytes, tag " + std::to_string(l.layout_tag));
    return {};
}

SpecAnswer SpecService::answer(const proto::SpecRequest& r) {
    ++requests_;
    const TargetFacts* target = nullptr;
    SpecAnswer a = check(r, target);
    if (a.status == proto::Status::ok) {
        const auto path = static_cast<SendPath>(r.path);
        std::string key = ObjectCache::key(target->triple, path, r.context);
        std::shared_ptr<const CompiledObject> object = cache_.find(key);
        a.hit = object != nullptr;
        if (a.hit) {
            ++hits_;
        } else {
            ++misses_;
            object = compile_queued(*target, r, a);
        }
        if (object) {
            std::vector<DeviceSymbol> symbols;
            for (const proto::Symbol& s : r.symbol_table()) symbols.push_back({s.name, s.address});
            auto image = link_image(*object, target->pointer_bytes, r.code_address, r.code_capacity, symbols);
            if (!image) {
                const Error& e = image.error();
                a = refuse(e.code == ENOENT  ? proto::Status::unknown_symbol
                           : e.code == EFBIG ? proto::Status::code_too_large
                                             : proto::Status::bad_request,
                           e.message);
            } else if (image->bytes.size() > proto::kMaxCodeBytes) {
                a = refuse(proto::Status::code_too_large, "the code is " + std::to_string(image->bytes.size()) +
                                                              " bytes; a reply carries at most " +
                                                              std::to_string(proto::kMaxCodeBytes));
            } else {
                a.code = std::move(image->bytes);
                a.entry_offset = image->entry_offset;
                a.link_ms = image->link_ms;
                link_us_ += uint64_t(image->link_ms * 1000);
            }
        }
    }
    if (a.status == proto::Status::ok) {
        a.symbol_hash = proto::symbol_table_hash(r.symbol_table());
        code_bytes_ += a.code.size();
    } else {
        ++refusals_;
        if (a.status == proto::Status::busy) ++busy_;
    }
    return a;
}

// Queues the compile and waits for it; on failure fills `a` with the refusal.
std::shared_ptr<const CompiledObject> SpecService::compile_queued(const TargetFacts& target,
                                                                  const proto::SpecRequest& r, SpecAnswer& a) {
    auto job = std::make_shared<Job>();
    job->target = &target;
    job->path = static_cast<SendPath>(r.path);
    job->context.assign(r.context.begin(), r.context.end());
    job->key = ObjectCache::key(target.triple, job->path, r.context);
    job->queued = std::chrono::steady_clock::now();
    auto result = job->done.get_future();
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            a = refuse(proto::Status::internal, "the server is shutting down");
            return nullptr;
        }
        if (queue_.size() >= config_.queue_limit) {
            a = refuse(proto::Status::busy, "compile queue full (" + std::to_string(config_.queue_limit) + ")");
            return nullptr;
        }
        queue_.push_back(job);
    }
    work_.notify_one();
    auto object = result.get();
    if (!object) {
        const Error& e = object.error();
        a = refuse(e.code == ECANCELED ? proto::Status::internal : proto::Status::compile_failed, e.message);
        return nullptr;
    }
    const CompiledObject& o = **object;
    a.queue_ms = job->queue_ms;
    a.compile_ms = o.total_ms;
    a.clone_ms = o.clone_ms;
    a.fold_ms = o.fold_ms;
    a.optimize_ms = o.optimize_ms;
    a.codegen_ms = o.codegen_ms;
    return *object;
}

void SpecService::compile_loop(Compilers compilers) {  // this thread's LLVM state
    for (;;) {
        std::shared_ptr<Job> job;
        {
            std::unique_lock lock(mutex_);
            work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;  // stop() answered whatever was queued
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        job->queue_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - job->queued).count();
        queue_us_ += uint64_t(job->queue_ms * 1000);
        // Another request may have compiled the same context meanwhile.
        if (auto cached = cache_.find(job->key)) {
            job->done.set_value(std::move(cached));
            continue;
        }
        // prepare() made one for every target.
        auto object = compilers.find(job->target->triple)->second->compile(job->path, job->context);
        if (!object) {
            ++compile_failures_;
            job->done.set_value(std::move(object).error());
            continue;
        }
        ++compiles_;
        compile_us_ += uint64_t(object->total_ms * 1000);
        clone_us_ += uint64_t(object->clone_ms * 1000);
        fold_us_ += uint64_t(object->fold_ms * 1000);
        optimize_us_ += uint64_t(object->optimize_ms * 1000);
        codegen_us_ += uint64_t(object->codegen_ms * 1000);
        auto shared = std::make_shared<const CompiledObject>(std::move(*object));
        cache_.insert(job->key, shared);
        job->done.set_value(std::move(shared));
    }
}

ServiceStats SpecService::stats() const {
    ServiceStats s;
    s.requests = requests_;
    s.hits = hits_;
    s.misses = misses_;
    s.compiles = compiles_;
    s.compile_failures = compile_failures_;
    s.refusals = refusals_;
    s.busy = busy_;
    s.compile_us = compile_us_;
    s.queue_us = queue_us_;
    s.clone_us = clone_us_;
    s.fold_us = fold_us_;
    s.optimize_us = optimize_us_;
    s.codegen_us = codegen_us_;
    s.warm_up_us = warm_up_us_;
    s.link_us = link_us_;
    s.code_bytes = code_bytes_;
    s.cache_bytes = cache_.bytes();
    s.cache_entries = cache_.entries();
    s.cache_evictions = cache_.evictions();
    return s;
}

}  // namespace quasi::jit::remote
