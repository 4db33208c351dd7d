// A Netif decorator that makes a clean link lossy: loss, duplication, corruption,
// reordering, delay and jitter, each direction configured and randomised on its
// own. It plays the part of Linux netem (tc-netem(8)) for in-process links, so
// seeded loss sweeps (smoltcp tests/netsim.rs) run without root and repeat exactly.
//
// Model, applied to each frame in arrival order, per direction:
//   1. loss       dropped with probability `loss`.
//   2. duplicate  with probability `duplicate`, a copy (one buffer from the pool;
//                 skipped when the pool is empty or the frame does not fit one
//                 buffer) follows the original and goes through steps 3-5 itself.
//   3. corrupt    with probability `corrupt`, one random bit of one random byte
//                 after the 14-byte Ethernet header is flipped; frames with nothing
//                 after the header are left alone. The receiver's Internet checksum
//                 (RFC 1071) should catch it, so offloads() stops claiming checksum
//                 work that would hide the damage.
//   4. delay      due at arrival + delay_ns + uniform[0, jitter_ns], but never
//                 before the frame ahead of it: jitter varies latency, it does not
//                 reorder (unlike netem without a rate).
//   5. reorder    with probability `reorder`, the frame is set aside until
//                 uniform[1, reorder_gap] frames that arrived after it have been
//                 released, or until reorder_timeout_ns past its due time when
//                 traffic stops. Step 5 is the only source of reordering, so
//                 `reordered` counts every frame set aside.
//
// Frames wait in a FIFO of hold_frames entries (sorted by due time, because of
// step 4's clamp); a frame that finds it full is dropped and counted in
// `overflowed`, like netem's `limit`. At most kReorderSlots frames are set aside at
// once; beyond that a frame picked for reordering simply stays in order.
//
// Release: due receive frames are returned by rx_burst. Due transmit frames go to
// the wrapped device on every tx_burst and flush_due call; frames it refuses stay
// at the head and are retried. A delayed link therefore needs its poll loop to
// call rx_burst and flush_due no later than next_due(), even when the device's
// fd shows nothing new.
//
// Randomness: one xoshiro256** stream per (direction, impairment), seeded through
// splitmix64 from Config::seed. The same seed gives the same pattern, the two
// directions are independent, and enabling one impairment does not change which
// frames another one picks.
//
// A direction whose Impairments are all zero and whose queues are empty forwards
// bursts untouched, so the default configuration is an exact pass-through.
#pragma once

#include "stack/buffer.hpp"
#include "stack/clock.hpp"
#include "stack/netif.hpp"
#include "stack/wire/bytes.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace quasi {

class ImpairedNetif final : public Netif {
public:
    static constexpr size_t kReorderSlots = 64;
    static constexpr size_t kEthernetHeader = 14;

    struct Impairments {
        double loss = 0;       // probabilities, 0..1
        double duplicate = 0;
        double corrupt = 0;
        double reorder = 0;
        TimeNs delay_ns = 0;
        TimeNs jitter_ns = 0;
        uint32_t reorder_gap = 3;  // a reordered frame lets 1..reorder_gap later ones pass
        TimeNs reorder_timeout_ns = 3 * kMillisecond;

        bool is_pass_through() const {
            return loss <= 0 && duplicate <= 0 && corrupt <= 0 && reorder <= 0 && delay_ns == 0 &&
                   jitter_ns == 0;
        }
    };

    struct Config {
        Impairments rx;
        Impairments tx;
        uint64_t seed = 1;
        size_t hold_frames = 4096;  // FIFO bound per direction
    };

    struct Counters {
        uint64_t passed = 0;      // frames handed on (returned by rx_burst / taken by the device)
        uint64_t lost = 0;
        uint64_t duplicated = 0;  // copies made
        uint64_t duplicate_failed = 0;  // copy skipped: pool empty or frame too big for a buffer
        uint64_t corrupted = 0;
        uint64_t reordered = 0;   // set aside by step 5
        uint64_t delayed = 0;     // held for a due time in the future
        uint64_t overflowed = 0;  // dropped: hold FIFO full
    };

    // `pool` supplies duplicates; `clock` decides when held frames are due. All
    // three must outlive this object.
    ImpairedNetif(Netif& inner, BufferPool& pool, const Clock& clock, const Config& config);
    ImpairedNetif(const ImpairedNetif&) = delete;
    ImpairedNetif& operator=(const ImpairedNetif&) = delete;

    size_t rx_burst(std::span<PacketPtr> out) override;
    // Takes every frame (unless pass-through, where the device's answer is returned).
    size_t tx_burst(std::span<PacketPtr> frames) override;
    MacAddr mac() const override { return inner_.mac(); }
    uint16_t mtu() const override { return inner_.mtu(); }
    Offloads offloads() const override;
    const char* name() const override { return inner_.name(); }

    // Hands due transmit frames to the device. Receive frames wait for rx_burst.
    void flush_due();
    // Earliest time a held frame (either direction) becomes due; UINT64_MAX if none.
    TimeNs next_due() const;
    size_t held() const { return rx_.held() + tx_.held(); }

    // Changes the impairments from now on; frames already held keep their fate.
    void set_impairments(const Impairments& rx, const Impairments& tx);
    const Counters& rx_counters() const { return rx_.counters; }
    const Counters& tx_counters() const { return tx_.counters; }

private:
    // xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number
    // generators", 2021) seeded by splitmix64: identical on every platform, unlike
    // std:: distributions. (stack/random.hpp's Random is the same generator; this
    // one adds the double-valued draws the probabilities need.)
    class Rng {
    public:
        explicit Rng(uint64_t seed);
        uint64_t next();
        double uniform();  // [0, 1)
        // [0, bound); 0 when bound is 0.
        uint64_t below(uint64_t bound);
        // True with probability p; draws nothing when p <= 0 or p >= 1.
        bool chance(double p);

    private:
        uint64_t state_[4];
    };

    // One direction: its settings, random streams, hold FIFO and reorder slots.
    class Lane {
    public:
        Lane(const Impairments& impairments_in, uint64_t seed, unsigned lane, size_t hold_frames);

        bool idle() const { return impairments.is_pass_through() && held() == 0; }
        size_t held() const { return count_ + parked_count_; }
        // Steps 1-5 of the model.
        void ingest(PacketPtr frame, TimeNs now, BufferPool& pool);
        // The next frame allowed out at `now`, or null.
        PacketPtr pop_due(TimeNs now);
        // Puts back a frame the device refused, ahead of everything else.
        void push_front(PacketPtr frame);
        TimeNs next_due() const;

        Impairments impairments;
        Counters counters;

    private:
        struct Held {
            PacketPtr frame;
            TimeNs due = 0;
            uint64_t sequence = 0;  // arrival order
        };
        struct Parked {
            PacketPtr frame;
            TimeNs deadline = 0;
            uint64_t sequence = 0;
            uint32_t frames_left = 0;  // later arrivals still to pass it
        };

        void schedule(PacketPtr frame, TimeNs now);
        void corrupt_one_bit(PacketBuffer& frame);
        void release_passed(uint64_t sequence);

        Rng loss_rng_;
        Rng duplicate_rng_;
        Rng corrupt_rng_;
        Rng reorder_rng_;
        Rng jitter_rng_;
        std::unique_ptr<Held[]> ring_;
        size_t capacity_;
        size_t head_ = 0;
        size_t count_ = 0;
        std::array<Parked, kReorderSlots> parked_{};
        size_t parked_count_ = 0;
        TimeNs last_due_ = 0;
        uint64_t next_sequence_ = 0;
    };

    void release_tx(TimeNs now);

    Netif& inner_;
    BufferPool& pool_;
    const Clock& clock_;
    Lane rx_;
    Lane tx_;
};

}  // namespace quasi
