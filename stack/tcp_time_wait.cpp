#include "stack/tcp_time_wait.hpp"

namespace quasi {

TimeWaitTable::TimeWaitTable(const Config& config, MemorySource& source)
    : config_(config),
      records_({.max_objects = config.max_records,
                .preallocate = config.grow ? 0 : config.max_records,
                .grow = config.grow,
                .chunk_bytes = config.grow ? 16 * 1024 : SlabPool<TimeWaitRecord>::chunk_bytes_for(config.max_records)},
               source),
      table_(source, config.grow ? config.initial_buckets : config.max_records, config.max_records, config.grow) {}

TimeWaitTable::~TimeWaitTable() {
    table_.clear();
    fifo_.clear_and_dispose([this](TimeWaitRecord* r) { records_.free(r); });
}

TimeWaitRecord* TimeWaitTable::find(const TcpTuple& t) {
    auto it = table_.find(t);
    return it == table_.end() ? nullptr : &*it;
}

TimeWaitRecord* TimeWaitTable::insert(const TimeWaitValues& values, bool& retired_early) {
    retired_early = false;
    TimeWaitRecord* r = records_.allocate(values);
    if (!r && !fifo_.empty()) {
        remove(fifo_.front());
        retired_early = true;
        r = records_.allocate(values);
    }
    if (!r) return nullptr;
    table_.insert(*r);
    fifo_.push_back(*r);
    return r;
}

void TimeWaitTable::restart(TimeWaitRecord& r, TimeNs expires) {
    r.expires = expires;
    fifo_.splice(fifo_.end(), fifo_, fifo_.iterator_to(r));
}

void TimeWaitTable::remove(TimeWaitRecord& r) {
    table_.erase(r);
    fifo_.erase(fifo_.iterator_to(r));
    records_.free(&r);
}

}  // namespace quasi
