#include "ports/x86/impaired.hpp"

#include <algorithm>
#include <limits>

namespace quasi {
namespace {

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Streams of one direction: distinct odd multipliers keep every (lane, kind)
// seed apart before splitmix64 scrambles it.
uint64_t stream_seed(uint64_t seed, unsigned lane, unsigned kind) {
    return seed ^ (0xD1B54A32D192ED03ull * (lane * 8 + kind + 1));
}

enum StreamKind : unsigned { kLoss, kDuplicate, kCorrupt, kReorder, kJitter };

PacketPtr copy_frame(const PacketBuffer& frame, BufferPool& pool) {
    const size_t length = frame.chain_length();
    PacketPtr copy = pool.alloc();
    if (!copy) return nullptr;
    uint8_t* dst = copy->append(length);
    if (!dst) return nullptr;
    frame.copy_out(0, dst, length);
    copy->meta = frame.meta;
    return copy;
}

}  // namespace

ImpairedNetif::Rng::Rng(uint64_t seed) {
    for (uint64_t& word : state_) word = splitmix64(seed);
}

uint64_t ImpairedNetif::Rng::next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
}

double ImpairedNetif::Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

uint64_t ImpairedNetif::Rng::below(uint64_t bound) {
    if (bound == 0) return 0;
    const auto scaled = static_cast<uint64_t>(uniform() * static_cast<double>(bound));
    return std::min(scaled, bound - 1);
}

bool ImpairedNetif::Rng::chance(double p) {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return uniform() < p;
}

// ---------------------------------------------------------------------------
// Lane

ImpairedNetif::Lane::Lane(const Impairments& impairments_in, uint64_t seed, unsigned lane,
                          size_t hold_frames)
    : impairments(impairments_in),
      loss_rng_(stream_seed(seed, lane, kLoss)),
      duplicate_rng_(stream_seed(seed, lane, kDuplicate)),
      corrupt_rng_(stream_seed(seed, lane, kCorrupt)),
      reorder_rng_(stream_seed(seed, lane, kReorder)),
      jitter_rng_(stream_seed(seed, lane, kJitter)),
      ring_(new Held[hold_frames]),
      capacity_(hold_frames) {}

void ImpairedNetif::Lane::ingest(PacketPtr frame, TimeNs now, BufferPool& pool) {
    if (loss_rng_.chance(impairments.loss)) {
        ++counters.lost;
        return;
    }
    PacketPtr copy;
    if (duplicate_rng_.chance(impairments.duplicate)) {
        copy = copy_frame(*frame, pool);
        if (copy) {
            ++counters.duplicated;
        } else {
            ++counters.duplicate_failed;
        }
    }
    schedule(std::move(frame), now);
    if (copy) schedule(std::move(copy), now);
}

void ImpairedNetif::Lane::schedule(PacketPtr frame, TimeNs now) {
    // Step 3: the draw happens whatever the length, so the pattern stays a
    // function of the frame's position alone.
    if (corrupt_rng_.chance(impairments.corrupt) && frame->chain_length() > kEthernetHeader) {
        corrupt_one_bit(*frame);
        ++counters.corrupted;
    }
    // Step 4.
    TimeNs due = now + impairments.delay_ns;
    if (impairments.jitter_ns > 0) due += jitter_rng_.below(impairments.jitter_ns + 1);
    due = std::max(due, last_due_);
    last_due_ = due;
    if (due > now) ++counters.delayed;
    const uint64_t sequence = ++next_sequence_;
    // Step 5.
    if (reorder_rng_.chance(impairments.reorder) && parked_count_ < kReorderSlots) {
        const uint32_t gap = 1 + static_cast<uint32_t>(
                                     reorder_rng_.below(std::max<uint32_t>(impairments.reorder_gap, 1)));
        for (Parked& slot : parked_) {
            if (slot.frame) continue;
            slot = Parked{std::move(frame), due + impairments.reorder_timeout_ns, sequence, gap};
            ++parked_count_;
            ++counters.reordered;
            return;
        }
    }
    if (count_ == capacity_) {
        ++counters.overflowed;
        return;
    }
    ring_[(head_ + count_) % capacity_] = Held{std::move(frame), due, sequence};
    ++count_;
}

void ImpairedNetif::Lane::corrupt_one_bit(PacketBuffer& frame) {
    size_t offset =
        kEthernetHeader + corrupt_rng_.below(frame.chain_length() - kEthernetHeader);
    const auto mask = static_cast<uint8_t>(1u << corrupt_rng_.below(8));
    for (PacketBuffer* s = &frame; s; s = s->next_segment) {
        if (offset < s->length) {
            s->data()[offset] ^= mask;
            return;
        }
        offset -= s->length;
    }
}

// A set-aside frame waits for frames that arrived after it, not for those that
// were already ahead of it in the FIFO (those would not reorder anything).
void ImpairedNetif::Lane::release_passed(uint64_t sequence) {
    if (parked_count_ == 0) return;
    for (Parked& slot : parked_) {
        if (slot.frame && slot.sequence < sequence && slot.frames_left > 0) --slot.frames_left;
    }
}

PacketPtr ImpairedNetif::Lane::pop_due(TimeNs now) {
    if (parked_count_ > 0) {
        for (Parked& slot : parked_) {
            if (slot.frame && (slot.frames_left == 0 || now >= slot.deadline)) {
                --parked_count_;
                return std::move(slot.frame);
            }
        }
    }
    if (count_ == 0 || ring_[head_].due > now) return nullptr;
    Held& held = ring_[head_];
    head_ = (head_ + 1) % capacity_;
    --count_;
    release_passed(held.sequence);
    return std::move(held.frame);
}

void ImpairedNetif::Lane::push_front(PacketPtr frame) {
    if (count_ == capacity_) {
        ++counters.overflowed;
        return;
    }
    head_ = (head_ + capacity_ - 1) % capacity_;
    // Sequence 0: this frame has already counted as passing the set-aside ones.
    ring_[head_] = Held{std::move(frame), 0, 0};
    ++count_;
}

TimeNs ImpairedNetif::Lane::next_due() const {
    TimeNs earliest = std::numeric_limits<TimeNs>::max();
    if (count_ > 0) earliest = ring_[head_].due;
    if (parked_count_ > 0) {
        for (const Parked& slot : parked_) {
            if (!slot.frame) continue;
            earliest = std::min(earliest, slot.frames_left == 0 ? TimeNs{0} : slot.deadline);
        }
    }
    return earliest;
}

// ---------------------------------------------------------------------------
// ImpairedNetif

ImpairedNetif::ImpairedNetif(Netif& inner, BufferPool& pool, const Clock& clock,
                             const Config& config)
    : inner_(inner),
      pool_(pool),
      clock_(clock),
      rx_(config.rx, config.seed, 0, std::max<size_t>(config.hold_frames, 1)),
      tx_(config.tx, config.seed, 1, std::max<size_t>(config.hold_frames, 1)) {}

size_t ImpairedNetif::rx_burst(std::span<PacketPtr> out) {
    if (rx_.idle()) {
        const size_t n = inner_.rx_burst(out);
        rx_.counters.passed += n;
        return n;
    }
    const TimeNs now = clock_.now();
    // `out` doubles as the staging area: every pulled frame moves into the lane
    // before anything due is moved back out.
    const size_t pulled = inner_.rx_burst(out);
    for (size_t i = 0; i < pulled; ++i) rx_.ingest(std::move(out[i]), now, pool_);
    size_t n = 0;
    while (n < out.size()) {
        PacketPtr frame = rx_.pop_due(now);
        if (!frame) break;
        out[n++] = std::move(frame);
    }
    rx_.counters.passed += n;
    return n;
}

size_t ImpairedNetif::tx_burst(std::span<PacketPtr> frames) {
    if (tx_.idle()) {
        const size_t n = inner_.tx_burst(frames);
        tx_.counters.passed += n;
        return n;
    }
    const TimeNs now = clock_.now();
    for (PacketPtr& frame : frames) tx_.ingest(std::move(frame), now, pool_);
    release_tx(now);
    return frames.size();
}

void ImpairedNetif::release_tx(TimeNs now) {
    constexpr size_t kBurst = 32;
    std::array<PacketPtr, kBurst> stage;
    for (;;) {
        size_t staged = 0;
        while (staged < kBurst) {
            PacketPtr frame = tx_.pop_due(now);
            if (!frame) break;
            stage[staged++] = std::move(frame);
        }
        if (staged == 0) return;
        const size_t sent = inner_.tx_burst({stage.data(), staged});
        tx_.counters.passed += sent;
        if (sent < staged) {
            // The device is full: keep the rest, in order, for the next call.
            for (size_t i = staged; i-- > sent;) tx_.push_front(std::move(stage[i]));
            return;
        }
    }
}

void ImpairedNetif::flush_due() {
    if (tx_.held() > 0) release_tx(clock_.now());
}

TimeNs ImpairedNetif::next_due() const { return std::min(rx_.next_due(), tx_.next_due()); }

void ImpairedNetif::set_impairments(const Impairments& rx, const Impairments& tx) {
    rx_.impairments = rx;
    tx_.impairments = tx;
}

Offloads ImpairedNetif::offloads() const {
    // A checksum verified or filled by the device would be computed on the side of
    // the damage that hides it; make the stack do the work so corruption shows.
    Offloads offloads = inner_.offloads();
    if (rx_.impairments.corrupt > 0) offloads.rx_checksum_verified = false;
    if (tx_.impairments.corrupt > 0) offloads.tx_checksum = false;
    return offloads;
}

}  // namespace quasi
