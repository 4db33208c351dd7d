#include "stack/reassembly.hpp"

#include <boost/intrusive/slist.hpp>

#include <algorithm>
#include <cassert>

namespace quasi {

namespace {

using FragmentList = boost::intrusive::slist<
    PacketBuffer,
    boost::intrusive::member_hook<PacketBuffer, boost::intrusive::slist_member_hook<>,
                                  &PacketBuffer::queue_hook>,
    boost::intrusive::cache_last<true>, boost::intrusive::constant_time_size<true>>;

// Where a fragment's data lies in the datagram's payload: bytes [offset, end).
struct Extent {
    uint32_t offset;
    uint32_t end;
};

Extent extent_of(const Ipv4Repr& r) {
    return {r.fragment_offset, uint32_t{r.fragment_offset} + r.payload_len};
}

// Held fragments keep their IPv4 header until assembly, so they describe themselves
// and no per-layer scratch field of the buffer is borrowed.
Extent extent_of(PacketBuffer& f) {
    Ipv4View v(f.bytes());
    const auto offset = static_cast<uint32_t>(v.fragment_offset());
    return {offset, offset + v.total_len() - static_cast<uint32_t>(v.header_len())};
}

// Checks that need no state. RFC 791 cuts fragments on 8-octet boundaries, so only
// the last may have another length, and no fragmenter emits an empty one (Linux
// discards those too). The end is checked against the smallest header; options in
// the first fragment are checked at assembly.
std::optional<Drop> check_alone(const Ipv4Repr& r) {
    if (r.payload_len == 0 || (r.more_fragments && r.payload_len % 8 != 0)) return Drop::frag_bad_length;
    if (extent_of(r).end > kIpv4MaxDatagram - kIpv4MinHeaderLen) return Drop::frag_too_big;
    return std::nullopt;
}

enum class Placement { fits, duplicate, overlap };

// Finds the held fragment to insert `e` after (`after`, null for the front). Held
// fragments never overlap, so the list sorted by offset is also sorted by end.
Placement place(FragmentList& list, Extent e, PacketBuffer*& after) {
    after = nullptr;
    if (list.empty()) return Placement::fits;
    if (extent_of(list.back()).end <= e.offset) {  // in-order arrival, the common case
        after = &list.back();
        return Placement::fits;
    }
    for (PacketBuffer& held : list) {
        const Extent h = extent_of(held);
        if (h.end <= e.offset) {
            after = &held;
            continue;
        }
        if (h.offset >= e.end) break;
        return h.offset == e.offset && h.end == e.end ? Placement::duplicate : Placement::overlap;
    }
    return Placement::fits;
}

// Keeps the first `len` bytes of the chain: cuts link padding and frees the
// segments that held only padding.
void trim_chain(PacketBuffer& head, size_t len) {
    PacketBuffer* seg = &head;
    for (;;) {
        seg->truncate(len);
        len -= seg->length;
        if (len == 0 || !seg->next_segment) break;
        seg = seg->next_segment;
    }
    assert(len == 0);
    PacketPtr padding(seg->next_segment);
    seg->next_segment = nullptr;
}

// A held buffer pins its whole data room, whatever its length: counting that (Linux's
// truesize) is what makes the cap hold against floods of tiny fragments.
size_t true_size(const PacketBuffer& chain) {
    size_t total = 0;
    for (const PacketBuffer* s = &chain; s; s = s->next_segment) total += s->pool->data_room();
    return total;
}

// A later fragment contributes only its payload: drops its header and any segment
// that leaves empty.
PacketPtr strip_header(PacketPtr f) {
    const size_t header_len = Ipv4View(f->bytes()).header_len();
    assert(header_len <= f->length);
    f->trim_front(header_len);
    while (f->length == 0 && f->next_segment) {
        PacketPtr rest(f->next_segment);
        f->next_segment = nullptr;
        f = std::move(rest);
    }
    return f;
}

PacketBuffer& last_segment(PacketBuffer& chain) {
    PacketBuffer* s = &chain;
    while (s->next_segment) s = s->next_segment;
    return *s;
}

}  // namespace

// RFC 791 3.2: fragments belong together when source, destination, protocol and
// identification all match.
struct Reassembler::Key {
    Ipv4Addr src;
    Ipv4Addr dst;
    uint16_t ident = 0;
    uint8_t protocol = 0;
    friend bool operator==(const Key&, const Key&) = default;
};

struct Reassembler::Datagram {
    FragmentList fragments;  // sorted by offset, never overlapping
    Key key;
    TimeNs started = 0;     // first fragment's arrival; never refreshed
    size_t bytes = 0;       // true size of the buffers held
    uint32_t received = 0;  // payload bytes held: with no overlaps, the bytes covered
    uint32_t highest_end = 0;
    uint32_t total = 0;  // payload length, known once the last fragment came
    bool last_seen = false;
    bool in_use = false;

    bool complete() const { return last_seen && received == total; }
    void reset() {
        key = Key{};
        started = 0;
        bytes = received = 0;
        highest_end = total = 0;
        last_seen = in_use = false;
    }
};

Reassembler::Reassembler(const Config& config, Stats& stats)
    : config_(config), stats_(stats), slots_(new Datagram[config.max_datagrams]) {}

Reassembler::~Reassembler() {
    for (size_t i = 0; i < config_.max_datagrams; ++i) {
        if (slots_[i].in_use) release(slots_[i]);
    }
}

PacketPtr Reassembler::add(PacketPtr fragment, const Ipv4Repr& repr, TimeNs now) {
    if (!repr.more_fragments && repr.fragment_offset == 0) return fragment;  // not a fragment
    const Key key{repr.src, repr.dst, repr.ident, repr.protocol};
    Datagram* datagram = find(key, now);
    if (auto bad = check_alone(repr)) return reject(datagram, *bad);

    PacketBuffer* after = nullptr;
    if (datagram) {
        if (auto bad = check_fits(*datagram, repr, after)) {
            if (*bad != Drop::frag_duplicate) return reject(datagram, *bad);
            stats_.drop(Drop::frag_duplicate);  // the copy held already serves
            return nullptr;
        }
    }
    trim_chain(*fragment, Ipv4View(fragment->bytes()).header_len() + repr.payload_len);
    const size_t cost = true_size(*fragment);
    if (!reserve(cost, now)) return reject(datagram, Drop::frag_memory_full);
    if (!datagram && !(datagram = open(key, now))) return reject(nullptr, Drop::frag_table_full);

    insert(*datagram, after, std::move(fragment), repr, cost);
    return datagram->complete() ? assemble(*datagram) : nullptr;
}

void Reassembler::expire(TimeNs now) {
    for (size_t i = 0; i < config_.max_datagrams; ++i) {
        Datagram& d = slots_[i];
        if (d.in_use && expired(d, now)) reject(&d, Drop::frag_timeout);
    }
}

// A match that has outlived its timer is gone (RFC 791 3.2 "reassembly timer"), even
// if expire() has not run yet: this fragment then starts a new datagram.
Reassembler::Datagram* Reassembler::find(const Key& key, TimeNs now) {
    for (size_t i = 0; i < config_.max_datagrams; ++i) {
        Datagram& d = slots_[i];
        if (!d.in_use || !(d.key == key)) continue;
        if (!expired(d, now)) return &d;
        reject(&d, Drop::frag_timeout);
        return nullptr;
    }
    return nullptr;
}

Reassembler::Datagram* Reassembler::open(const Key& key, TimeNs now) {
    if (in_use_ == config_.max_datagrams) expire(now);
    for (size_t i = 0; i < config_.max_datagrams; ++i) {
        Datagram& d = slots_[i];
        if (d.in_use) continue;
        d.in_use = true;
        d.key = key;
        d.started = now;
        ++in_use_;
        return &d;
    }
    return nullptr;
}

std::optional<Drop> Reassembler::check_fits(Datagram& d, const Ipv4Repr& repr,
                                            PacketBuffer*& after) const {
    const Extent e = extent_of(repr);
    switch (place(d.fragments, e, after)) {
        case Placement::duplicate: return Drop::frag_duplicate;
        case Placement::overlap: return Drop::frag_overlap;  // RFC 1858 section 4
        case Placement::fits: break;
    }
    // RFC 791: the last fragment fixes the payload length; data past it, or a second
    // end, means the fragments cannot come from one datagram (Linux ip_frag_queue).
    if (!repr.more_fragments) {
        if (d.last_seen ? e.end != d.total : e.end < d.highest_end) return Drop::frag_inconsistent;
    } else if (d.last_seen && e.end > d.total) {
        return Drop::frag_inconsistent;
    }
    if (d.fragments.size() >= config_.max_fragments_per_datagram) return Drop::frag_too_many_fragments;
    return std::nullopt;
}

void Reassembler::insert(Datagram& d, PacketBuffer* after, PacketPtr fragment, const Ipv4Repr& repr,
                         size_t cost) {
    const Extent e = extent_of(repr);
    auto position = after ? d.fragments.iterator_to(*after) : d.fragments.before_begin();
    d.fragments.insert_after(position, *fragment.release());
    d.bytes += cost;
    bytes_held_ += cost;
    d.received += repr.payload_len;
    d.highest_end = std::max(d.highest_end, e.end);
    if (!repr.more_fragments) {
        d.last_seen = true;
        d.total = e.end;
    }
}

// Under the cap, or after freeing what has timed out (FragmentSmack: the cap must
// hold, yet stale datagrams must not lock newer ones out).
bool Reassembler::reserve(size_t cost, TimeNs now) {
    if (bytes_held_ + cost <= config_.max_bytes) return true;
    expire(now);
    return bytes_held_ + cost <= config_.max_bytes;
}

PacketPtr Reassembler::reject(Datagram* datagram, Drop reason) {
    stats_.drop(reason);
    if (datagram) release(*datagram);
    return nullptr;
}

// RFC 791 3.2: the first fragment's header becomes the datagram's header (it alone
// carries every option), with the total length and fragment fields rewritten.
PacketPtr Reassembler::assemble(Datagram& d) {
    PacketBuffer& first = d.fragments.front();
    Ipv4View header(first.bytes());
    const size_t total_len = header.header_len() + d.total;
    if (total_len > kIpv4MaxDatagram) return reject(&d, Drop::frag_too_big);

    d.fragments.pop_front();
    PacketPtr whole(&first);
    header.set_total_len(static_cast<uint16_t>(total_len));
    header.set_flags_fragment(header.flags_fragment() & kIpv4FlagDf);  // MF 0, offset 0
    header.fill_checksum();
    PacketBuffer* tail = &last_segment(*whole);
    while (!d.fragments.empty()) {
        PacketBuffer& next = d.fragments.front();
        d.fragments.pop_front();
        tail->next_segment = strip_header(PacketPtr(&next)).release();
        tail = &last_segment(*tail);
    }
    release(d);
    stats_.count(Counter::ipv4_reassembled);
    return whole;
}

void Reassembler::release(Datagram& d) {
    d.fragments.clear_and_dispose([](PacketBuffer* f) { PacketDeleter{}(f); });
    bytes_held_ -= d.bytes;
    --in_use_;
    d.reset();
}

bool Reassembler::expired(const Datagram& d, TimeNs now) const {
    return now >= d.started && now - d.started >= config_.timeout;
}

}  // namespace quasi
