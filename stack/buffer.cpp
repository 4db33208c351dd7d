#include "stack/buffer.hpp"

#include <cassert>
#include <cstring>

namespace quasi {

uint8_t* PacketBuffer::prepend(size_t n) {
    if (n > head) return nullptr;
    head = static_cast<uint16_t>(head - n);
    length = static_cast<uint16_t>(length + n);
    return data();
}

uint8_t* PacketBuffer::append(size_t n) {
    if (n > tailroom()) return nullptr;
    uint8_t* tail = data() + length;
    length = static_cast<uint16_t>(length + n);
    return tail;
}

void PacketBuffer::trim_front(size_t n) {
    assert(n <= length);
    head = static_cast<uint16_t>(head + n);
    length = static_cast<uint16_t>(length - n);
}

void PacketBuffer::truncate(size_t n) {
    if (n < length) length = static_cast<uint16_t>(n);
}

void PacketBuffer::truncate_chain(size_t n) {
    for (PacketBuffer* s = this; s; s = s->next_segment) {
        if (s->length > n) s->length = static_cast<uint16_t>(n);
        n -= s->length;
    }
}

void PacketBuffer::reset(size_t room) {
    head = static_cast<uint16_t>(room < capacity ? room : capacity);
    length = 0;
}

size_t PacketBuffer::chain_length() const {
    size_t total = 0;
    for (const PacketBuffer* s = this; s; s = s->next_segment) total += s->length;
    return total;
}

size_t PacketBuffer::copy_out(size_t offset, uint8_t* dst, size_t len) const {
    size_t copied = 0;
    for (const PacketBuffer* s = this; s && copied < len; s = s->next_segment) {
        if (offset >= s->length) {
            offset -= s->length;
            continue;
        }
        size_t n = s->length - offset;
        if (n > len - copied) n = len - copied;
        std::memcpy(dst + copied, s->data() + offset, n);
        copied += n;
        offset = 0;
    }
    return copied;
}

void PacketDeleter::operator()(PacketBuffer* chain) const {
    while (chain) {
        PacketBuffer* next = chain->next_segment;
        chain->next_segment = nullptr;
        chain->pool->release(chain);
        chain = next;
    }
}

void chain_append(PacketBuffer& head, PacketPtr tail) {
    PacketBuffer* last = &head;
    while (last->next_segment) last = last->next_segment;
    last->next_segment = tail.release();
}

BufferPool::BufferPool(const Config& config)
    : config_(config),
      block_(new uint8_t[config.count * config.data_room]),
      descriptors_(new PacketBuffer[config.count]) {
    assert(config.data_room <= UINT16_MAX && config.headroom < config.data_room);
    for (size_t i = 0; i < config.count; ++i) {
        PacketBuffer& b = descriptors_[i];
        b.storage = block_.get() + i * config.data_room;
        b.capacity = static_cast<uint16_t>(config.data_room);
        b.pool = this;
        b.next_segment = free_list_;
        free_list_ = &b;
    }
    free_count_ = config.count;
}

BufferPool::BufferPool(const Config& config, BufferSource& source) : config_(config), source_(&source) {}

BufferPool::~BufferPool() {
    // Every buffer must be back before the pool goes: a buffer outliving its pool
    // would point at freed storage. (A source's buffers are the source's to account.)
    assert(source_ || free_count_ == config_.count);
}

PacketPtr BufferPool::alloc() {
    PacketBuffer* b;
    if (source_) {
        b = source_->take();
        if (b) b->pool = this;
    } else {
        b = free_list_;
        if (b) {
            free_list_ = b->next_segment;
            --free_count_;
        }
    }
    if (!b) {
        ++alloc_failures_;
        return nullptr;
    }
    b->next_segment = nullptr;
    b->meta = 0;
    b->reset(config_.headroom);
    return PacketPtr(b);
}

void BufferPool::release(PacketBuffer* single) {
    assert(single->pool == this);
    if (source_) {
        source_->give_back(single);
        return;
    }
    single->next_segment = free_list_;
    free_list_ = single;
    ++free_count_;
}

}  // namespace quasi
