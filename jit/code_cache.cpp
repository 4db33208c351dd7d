#include "jit/code_cache.hpp"

namespace quasi::jit {

CodeCache::~CodeCache() {
    // The specializer frees the code first; what is left here is bookkeeping.
    for (auto& [key, entry] : map_) entry->in_map = false;
}

CodeEntry* CodeCache::acquire(std::string_view key, bool& created) {
    created = false;
    auto it = map_.find(key);
    if (it != map_.end()) {
        ++hits_;
        add_user(it->second.get());
        return it->second.get();
    }
    // Full: room can only come from an unused entry (the caller's evict() takes it).
    if (map_.size() >= limits_.max_entries && lru_.empty()) return nullptr;
    ++misses_;
    auto entry = std::make_unique<CodeEntry>();
    entry->key.assign(key);
    entry->serial = ++serial_;
    entry->in_map = true;
    CodeEntry* raw = entry.get();
    map_.emplace(std::string_view(raw->key), std::move(entry));
    created = true;
    add_user(raw);
    return raw;
}

void CodeCache::add_user(CodeEntry* entry) {
    if (entry->users++ == 0 && entry->in_map) {
        ++in_use_;
        if (entry->in_lru) {
            lru_.erase(entry->lru_position);
            entry->in_lru = false;
        }
    }
}

CodeEntry* CodeCache::release(CodeEntry* entry) {
    if (--entry->users > 0) return nullptr;
    if (!entry->in_map) return entry;  // an orphan's last user: the caller destroys it
    --in_use_;
    if (entry->state.load(std::memory_order_acquire) == EntryState::compiling) return nullptr;  // the job still holds it
    lru_.push_front(entry);
    entry->lru_position = lru_.begin();
    entry->in_lru = true;
    return nullptr;
}

void CodeCache::finished(CodeEntry* entry) {
    if (!entry->in_map) return;
    if (entry->state.load(std::memory_order_acquire) == EntryState::failed) {
        // Forget the failure so a later request tries again; users keep the object.
        erase_from_map(entry);
        return;
    }
    bytes_ += entry->object_bytes;
}

void CodeCache::erase_from_map(CodeEntry* entry) {
    auto it = map_.find(std::string_view(entry->key));
    if (it == map_.end() || it->second.get() != entry) return;
    if (entry->in_lru) {
        lru_.erase(entry->lru_position);
        entry->in_lru = false;
    }
    if (entry->users > 0) --in_use_;
    if (entry->state.load(std::memory_order_acquire) == EntryState::ready) bytes_ -= entry->object_bytes;
    entry->in_map = false;
    it->second.release();  // ownership passes to the last user (release()) or evict()'s caller
    map_.erase(it);
}

std::vector<CodeEntry*> CodeCache::evict() {
    std::vector<CodeEntry*> victims;
    while (!lru_.empty() && (map_.size() > limits_.max_entries || bytes_ > limits_.max_bytes)) {
        CodeEntry* oldest = lru_.back();
        erase_from_map(oldest);
        victims.push_back(oldest);
        ++evictions_;
    }
    return victims;
}

CacheStats CodeCache::stats() const {
    return CacheStats{hits_, misses_, evictions_, map_.size(), in_use_, bytes_};
}

}  // namespace quasi::jit
