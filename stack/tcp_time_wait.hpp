// TIME-WAIT without a socket (RFC 9293 3.6.1, 3.10.7.4): when a connection enters
// TIME-WAIT its socket, rings and descriptor are freed at once and a compact record
// takes over the 4-tuple for 2*MSL, as Linux's timewait minisockets do. The record
// keeps what the state still needs: the sequence numbers to ACK a retransmitted FIN,
// the timestamp state for PAWS (RFC 7323 5) and for RFC 6191's reuse test, our TSval
// offset so a new incarnation's clock continues, and the window our ACKs announce.
//
// The table is bounded. Records live in a SlabPool; the tuple hash and a FIFO by
// expiry are intrusive (STYLE.md 11). Every record lasts 2*MSL from its last (re)start,
// so the FIFO's order is the order of expiry and one timer for its head serves them
// all. When the table is full the oldest record is retired early (as Linux's
// tcp_max_tw_buckets): a connection is never refused for want of a record; what that
// trades away is the protection TIME-WAIT gives that old connection's tuple against
// old duplicates, for the rest of its 2*MSL.
#pragma once

#include "stack/clock.hpp"
#include "stack/hash_table.hpp"
#include "stack/memory.hpp"
#include "stack/tcp_tuple.hpp"

#include <boost/intrusive/list.hpp>
#include <boost/intrusive/unordered_set.hpp>

namespace quasi {

// What a record keeps of its connection (enter_time_wait fills one in).
struct TimeWaitValues {
    TcpTuple tuple;
    uint32_t snd_nxt = 0;    // after our FIN: the SEQ of our ACKs
    uint32_t rcv_nxt = 0;    // after the peer's FIN
    uint32_t ts_recent = 0;  // the peer's latest TSval (RFC 7323 4.3)
    uint32_t ts_offset = 0;  // our TSval offset (RFC 7323 5.4)
    TimeNs expires = 0;
    uint16_t window = 0;  // the window field of our ACKs (already scaled down)
    uint8_t ttl = 64;
    bool ts_ok = false;
};

struct TimeWaitRecord : TimeWaitValues {
    explicit TimeWaitRecord(const TimeWaitValues& values) : TimeWaitValues(values) {}
    boost::intrusive::unordered_set_member_hook<> table_hook;
    boost::intrusive::list_member_hook<> expiry_hook;
};

class TimeWaitTable {
public:
    struct Config {
        size_t max_records = 65536;  // Linux: tcp_max_tw_buckets
        size_t initial_buckets = 256;
        bool grow = true;  // false: records and buckets preallocated (a board)
    };

    TimeWaitTable(const Config& config, MemorySource& source);
    ~TimeWaitTable();

    TimeWaitRecord* find(const TcpTuple& t);
    // A new record for values.tuple (which must not be in the table), expiring at
    // values.expires. When the table is full the oldest record is retired first and
    // retired_early is set. nullptr only when not even one record can be had.
    TimeWaitRecord* insert(const TimeWaitValues& values, bool& retired_early);
    // Another 2*MSL from now: the record moves to the FIFO's tail.
    void restart(TimeWaitRecord& r, TimeNs expires);
    void remove(TimeWaitRecord& r);
    TimeWaitRecord* oldest() { return fifo_.empty() ? nullptr : &fifo_.front(); }

    size_t size() const { return fifo_.size(); }
    size_t max_records() const { return config_.max_records; }
    size_t bytes() const { return records_.bytes() + table_.bytes(); }  // memory held

private:
    struct Key {
        using type = TcpTuple;
        const TcpTuple& operator()(const TimeWaitRecord& r) const { return r.tuple; }
    };
    using Set = boost::intrusive::unordered_set<
        TimeWaitRecord,
        boost::intrusive::member_hook<TimeWaitRecord, boost::intrusive::unordered_set_member_hook<>,
                                      &TimeWaitRecord::table_hook>,
        boost::intrusive::key_of_value<Key>, boost::intrusive::hash<TcpTupleHash>,
        boost::intrusive::power_2_buckets<true>>;
    using Fifo = boost::intrusive::list<
        TimeWaitRecord,
        boost::intrusive::member_hook<TimeWaitRecord, boost::intrusive::list_member_hook<>, &TimeWaitRecord::expiry_hook>,
        boost::intrusive::constant_time_size<true>>;

    Config config_;
    SlabPool<TimeWaitRecord> records_;
    HashTable<Set> table_;
    Fifo fifo_;  // by expiry, oldest first
};

}  // namespace quasi
