#include "jit/remote/server/spec_service.hpp"

#include <cerrno>
#include <future>
#include <map>

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
    std::promise<Expected<std::shared_ptr<const CompiledObject>>> done;
};

SpecService::SpecService(const ServiceConfig& config) : config_(config), cache_(config.cache_bytes) {}

Expected<std::unique_ptr<SpecService>> SpecService::create(const ServiceConfig& config) {
    std::unique_ptr<SpecService> service(new SpecService(config));
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
    }
    for (unsigned i = 0; i < std::max(1u, config.compile_threads); ++i)
        service->threads_.emplace_back([s = service.get()] { s->compile_loop(); });
    return service;
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
    a.compile_ms = (*object)->total_ms;
    return *object;
}

void SpecService::compile_loop() {
    std::map<std::string, std::unique_ptr<TargetCompiler>, std::less<>> compilers;  // this thread's LLVM state
    for (;;) {
        std::shared_ptr<Job> job;
        {
            std::unique_lock lock(mutex_);
            work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;  // stop() answered whatever was queued
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        // Another request may have compiled the same context meanwhile.
        if (auto cached = cache_.find(job->key)) {
            job->done.set_value(std::move(cached));
            continue;
        }
        auto& compiler = compilers[job->target->triple];
        if (!compiler) {
            auto created = TargetCompiler::create(job->target->triple);
            if (!created) {
                ++compile_failures_;
                job->done.set_value(std::move(created).error());
                continue;
            }
            compiler = std::move(*created);
        }
        auto object = compiler->compile(job->path, job->context);
        if (!object) {
            ++compile_failures_;
            job->done.set_value(std::move(object).error());
            continue;
        }
        ++compiles_;
        compile_us_ += uint64_t(object->total_ms * 1000);
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
    s.link_us = link_us_;
    s.code_bytes = code_bytes_;
    s.cache_bytes = cache_.bytes();
    s.cache_entries = cache_.entries();
    s.cache_evictions = cache_.evictions();
    return s;
}

}  // namespace quasi::jit::remote
