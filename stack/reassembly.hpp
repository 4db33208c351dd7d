// IPv4 reassembly (RFC 791 section 3.2, RFC 815 ideas, RFC 1122 3.3.2), hardened
// against the inputs of /work/shared/notes/bad-inputs.md.
//
// Policy, in the order the checks run for each fragment:
//  - An unfragmented packet (MF clear, offset 0) is returned unchanged and counted
//    nowhere, so a caller may hand every packet over.
//  - A datagram is keyed by (src, dst, protocol, ident) (RFC 791). Its timer starts at
//    its first fragment and is never refreshed (a trickle of fragments must not keep
//    a slot forever); a datagram found timed out is freed first (frag_timeout).
//  - Stateless checks: an empty fragment or a non-final one whose length is not a
//    multiple of 8 (frag_bad_length; RFC 791 cuts on 8-octet boundaries), or one
//    ending past 65535 - 20 (frag_too_big, ping of death).
//  - Against the fragments held: a fragment with exactly the offset and length of a
//    held one is ignored (frag_duplicate), because networks do duplicate packets and
//    Linux also discards those quietly; any other overlap is frag_overlap (RFC 1858,
//    teardrop; we never try to resolve overlaps). A second last fragment with another
//    end, a last fragment ending before data already held, or data past a known end
//    is frag_inconsistent. A fragment beyond max_fragments_per_datagram is
//    frag_too_many_fragments.
//  - Any of those rejections frees the whole datagram (when we hold one): it can no
//    longer complete validly, and freeing it at once returns memory under attack.
//  - Memory (true size: pool data room of every held buffer) over max_bytes: timed-out
//    datagrams are expired first, then the fragment is refused (frag_memory_full) and
//    its datagram, now unable to complete, freed.
//  - Table full: timed-out datagrams are expired first, then the new datagram is
//    refused (frag_table_full). We refuse rather than evict the oldest: eviction lets
//    a flood of first fragments churn the table so that no datagram ever completes,
//    while refusing keeps the datagrams already under way completing; the timeout
//    bounds how long a flood can hold the table.
//
// No allocation after construction: the slots are one fixed array and the fragments
// of a datagram an intrusive list (PacketBuffer::queue_hook) sorted by offset. Lookup
// is a linear scan of the slots, cheap at the intended sizes (tens of datagrams).
#pragma once

#include "stack/buffer.hpp"
#include "stack/clock.hpp"
#include "stack/stats.hpp"
#include "stack/wire/ipv4.hpp"

#include <cstddef>
#include <memory>
#include <optional>

namespace quasi {

class Reassembler {
public:
    struct Config {
        size_t max_datagrams = 32;              // datagrams under reassembly at once
        size_t max_bytes = size_t{256} * 1024;  // memory cap, as pool data_room per held buffer
        size_t max_fragments_per_datagram = 64;
        TimeNs timeout = 30 * kSecond;          // RFC 1122 3.3.2 suggests 60..120 s; Linux uses 30 s
    };

    Reassembler(const Config& config, Stats& stats);
    Reassembler(const Reassembler&) = delete;
    Reassembler& operator=(const Reassembler&) = delete;
    // Returns every held buffer to its pool (uncounted); the pools must outlive this.
    ~Reassembler();

    // `fragment` holds one IPv4 packet starting at its header (already validated by
    // Ipv4View::check and Ipv4Repr::parse into `repr`; the header lies in the first
    // segment); anything past repr.payload_len is link padding and is cut off.
    // Returns the whole datagram when this fragment completes it, else null. The
    // result is a chain: the first fragment's header rewritten for the whole datagram
    // (total length, MF 0, offset 0, checksum; options and DF kept) and its data, then
    // segments of payload only, in order, with no gaps and no padding.
    PacketPtr add(PacketPtr fragment, const Ipv4Repr& repr, TimeNs now);
    // Frees the datagrams whose first fragment is `timeout` old, counting frag_timeout
    // once per datagram.
    void expire(TimeNs now);

    size_t datagrams_in_progress() const { return in_use_; }
    size_t bytes_held() const { return bytes_held_; }

private:
    struct Key;
    struct Datagram;

    Datagram* find(const Key& key, TimeNs now);
    Datagram* open(const Key& key, TimeNs now);
    std::optional<Drop> check_fits(Datagram& datagram, const Ipv4Repr& repr, PacketBuffer*& after) const;
    void insert(Datagram& datagram, PacketBuffer* after, PacketPtr fragment, const Ipv4Repr& repr,
                size_t cost);
    bool reserve(size_t cost, TimeNs now);
    PacketPtr reject(Datagram* datagram, Drop reason);
    PacketPtr assemble(Datagram& datagram);
    void release(Datagram& datagram);
    bool expired(const Datagram& datagram, TimeNs now) const;

    Config config_;
    Stats& stats_;
    std::unique_ptr<Datagram[]> slots_;
    size_t in_use_ = 0;
    size_t bytes_held_ = 0;
};

}  // namespace quasi
