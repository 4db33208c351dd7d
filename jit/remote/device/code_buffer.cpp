#include "jit/remote/device/code_buffer.hpp"

#include <cstring>

namespace quasi::remote {

namespace {
size_t align_up(size_t n) { return (n + CodeBuffer::kAlign - 1) / CodeBuffer::kAlign * CodeBuffer::kAlign; }
}  // namespace

// First fit: the lowest offset where `bytes` fit between the used entries.
bool CodeBuffer::find_gap(size_t bytes, size_t& offset) const {
    size_t region = region_.bytes().size();
    size_t candidate = 0;
    for (;;) {
        if (candidate + bytes > region) return false;
        bool moved = false;
        for (const Entry& e : entries_) {
            if (e.used && e.offset < candidate + bytes && candidate < e.offset + e.size) {
                candidate = align_up(e.offset + e.size);
                moved = true;
            }
        }
        if (!moved) {
            offset = candidate;
            return true;
        }
    }
}

bool CodeBuffer::evict_one() {
    Entry* victim = nullptr;
    for (Entry& e : entries_)
        if (e.used && !e.pinned && (!victim || e.last_use < victim->last_use)) victim = &e;
    if (!victim) return false;
    victim->used = false;
    ++evictions_;
    if (listener_) listener_->code_evicted(victim->owner, static_cast<int>(victim - entries_.data()));
    return true;
}

int CodeBuffer::reserve(size_t bytes, uint32_t owner) {
    if (bytes == 0) return kNone;
    bytes = align_up(bytes);
    for (;;) {
        int slot = kNone;
        for (size_t i = 0; i < entries_.size(); ++i)
            if (!entries_[i].used) {
                slot = static_cast<int>(i);
                break;
            }
        size_t offset = 0;
        if (slot != kNone && find_gap(bytes, offset)) {
            entries_[slot] = Entry{offset, bytes, ++tick_, owner, true, true};
            return slot;
        }
        if (!evict_one()) return kNone;
    }
}

bool CodeBuffer::install(int id, std::span<const uint8_t> code) {
    Entry& e = entries_[id];
    if (!e.used || !e.pinned || code.empty() || code.size() > e.size) return false;
    region_.begin_write();
    std::memcpy(region_.bytes().data() + e.offset, code.data(), code.size());
    region_.end_write(e.offset, code.size());
    e.size = align_up(code.size());
    e.pinned = false;
    e.last_use = ++tick_;
    ++installs_;
    return true;
}

void CodeBuffer::release(int id) {
    if (id >= 0 && static_cast<size_t>(id) < entries_.size()) entries_[id].used = false;
}

size_t CodeBuffer::used_bytes() const {
    size_t n = 0;
    for (const Entry& e : entries_)
        if (e.used) n += e.size;
    return n;
}

size_t CodeBuffer::entries() const {
    size_t n = 0;
    for (const Entry& e : entries_)
        if (e.used) ++n;
    return n;
}

}  // namespace quasi::remote
