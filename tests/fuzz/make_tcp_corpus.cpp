// Writes the seed corpus of tcp_fuzzer: one file per TCP scenario, in the record
// format of tcp_records.hpp.
//
//   make_tcp_corpus <directory>
//
// Sequence and acknowledgment numbers in the records are relative to the
// connection's state, so the seeds are written without running the stack and stay
// valid when its ISNs or timestamps change. Run `QUASI_FUZZ_VERBOSE=1 tcp_fuzzer
// <seed>` to see what a seed does. The output is committed under
// tests/fuzz/corpus/tcp/ (the `tcp_fuzz_corpus` target rewrites it).
#include "tcp_records.hpp"

#include "stack/wire/tcp.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace quasi::fuzz {
namespace {

using namespace seg_bases;
using namespace seg_options;
constexpr uint8_t kSyn = tcp_flags::syn, kAck = tcp_flags::ack, kFin = tcp_flags::fin, kRst = tcp_flags::rst,
                  kPsh = tcp_flags::psh;
constexpr uint16_t kScaledWindow = 512;  // 64 KB with the window scale 7 the peer offers
constexpr uint8_t kTenSeconds = 209;
constexpr uint8_t kFiftySixSeconds = 255;  // the longest one record waits

struct Seed {
    std::string name;
    TcpInputWriter w;

    Seed(std::string n, uint8_t config0 = 0, uint8_t config1 = 0) : name(std::move(n)) {
        w.u8(config0);
        w.u8(config1);
    }

    // A segment in order (sequence base RCV.NXT) acknowledging all the stack sent,
    // with a timestamp.
    static SegmentRecord in_order(uint8_t flags, uint16_t len = 0, uint16_t window = kScaledWindow) {
        return SegmentRecord{.flags = flags,
                             .bases = seq_rcv_nxt | ack_snd_max,
                             .window = window,
                             .options = timestamps,
                             .payload_len = len};
    }
    void segment(size_t slot, const SegmentRecord& r) { w.segment(slot, r); }
    void ack(size_t slot, uint16_t window = kScaledWindow) { segment(slot, in_order(kAck, 0, window)); }
    void data(size_t slot, uint16_t len, uint8_t flags = kAck | kPsh) { segment(slot, in_order(flags, len)); }
    void fin(size_t slot) { segment(slot, in_order(kAck | kFin)); }

    // The peer's SYN (Linux's options: MSS 1460, SACK-permitted, timestamps, scale 7).
    void syn(size_t slot, uint8_t flags = kSyn, uint8_t ack_base = ack_snd_max) {
        SegmentRecord r{.flags = flags,
                        .bases = uint8_t(seq_isn | ack_base),
                        .window = 65535,
                        .options = mss | window_scale | sack_permitted | timestamps,
                        .mss = 1460,
                        .window_scale = 7};
        segment(slot, r);
    }
    // SYN, ACK of the SYN-ACK, accept: a passive slot (1-5) is ESTABLISHED.
    void passive_open(size_t slot) {
        syn(slot);
        ack(slot);
        app(slot, AppAction::accept);
    }
    void app(size_t slot, AppAction action, uint16_t arg = 0) { w.app(slot, action, arg); }
    void send(size_t slot, uint16_t n) { app(slot, AppAction::send, n); }
    void recv(size_t slot, uint16_t n = 65535) { app(slot, AppAction::recv, n); }
    void wait(uint8_t time) { w.advance(time); }
    void next_timer(int times = 1) {
        for (int i = 0; i < times; ++i) w.next_timer();
    }
};

// ---- scenarios; slot 0 is ESTABLISHED at start-up unless the config says otherwise ----

void handshakes(std::vector<Seed>& out) {
    Seed passive{"handshake_passive", config_bits::no_startup_connection};
    passive.passive_open(1);
    passive.data(1, 100);
    passive.recv(1);
    passive.send(1, 100);
    passive.ack(1);
    out.push_back(passive);

    Seed active{"handshake_active", config_bits::no_startup_connection};
    active.app(6, AppAction::connect);
    active.syn(6, kSyn | kAck);
    active.send(6, 500);
    active.ack(6);
    active.data(6, 300);
    active.recv(6);
    out.push_back(active);

    // RFC 9293 figure 8: both SYNs cross; each side answers with SYN-ACK.
    Seed simultaneous{"simultaneous_open", config_bits::no_startup_connection};
    simultaneous.app(7, AppAction::connect);
    simultaneous.syn(7, kSyn);
    simultaneous.syn(7, kSyn | kAck);
    simultaneous.send(7, 200);
    simultaneous.ack(7);
    out.push_back(simultaneous);

    // The first connection still closes (as an orphan) when the slot connects again.
    Seed reopen{"active_reopen_while_closing", config_bits::no_startup_connection};
    reopen.app(7, AppAction::connect);
    reopen.syn(7, kSyn | kAck);
    reopen.app(7, AppAction::close);
    reopen.app(7, AppAction::connect);
    reopen.next_timer(2);
    out.push_back(reopen);

    Seed refused{"active_open_refused", config_bits::no_startup_connection};
    refused.app(6, AppAction::connect);
    refused.segment(6, SegmentRecord{.flags = kRst | kAck, .bases = ack_snd_max});
    refused.recv(6);
    refused.app(6, AppAction::connect);
    out.push_back(refused);

    Seed syn_retries{"syn_retries", config_bits::no_startup_connection};
    syn_retries.app(6, AppAction::connect);
    syn_retries.wait(kFiftySixSeconds);
    syn_retries.wait(kFiftySixSeconds);
    syn_retries.wait(kFiftySixSeconds);
    syn_retries.recv(6);
    out.push_back(syn_retries);

    // Backlog 1: after two half-open connections the third SYN gets a cookie; its ACK
    // (acknowledging what the peer saw, there being no connection) completes it.
    Seed cookies{"syn_cookies", config_bits::no_startup_connection, 0};
    cookies.syn(1);
    cookies.syn(2);
    cookies.syn(3);
    cookies.segment(
        3, SegmentRecord{.flags = kAck, .bases = seq_rcv_nxt | ack_seen, .seq_offset = 1, .window = kScaledWindow});
    cookies.app(3, AppAction::accept);
    cookies.data(3, 64);
    cookies.recv(3);
    out.push_back(cookies);

    Seed no_options{"handshake_no_options", config_bits::no_startup_connection};
    no_options.segment(2, SegmentRecord{.flags = kSyn, .bases = seq_isn, .window = 8192});
    no_options.segment(2, SegmentRecord{.flags = kAck, .window = 8192});
    no_options.app(2, AppAction::accept);
    no_options.send(2, 2000);
    no_options.segment(2, SegmentRecord{.flags = kAck, .window = 8192});
    out.push_back(no_options);

    Seed closed_port{"syn_to_closed_port", config_bits::no_startup_connection};
    closed_port.segment(4, SegmentRecord{.flags = kSyn, .bases = seq_isn | to_closed_port, .window = 1024});
    closed_port.segment(4, SegmentRecord{.flags = kAck, .bases = seq_isn | to_closed_port, .window = 1024});
    out.push_back(closed_port);
}

void data_transfer(std::vector<Seed>& out) {
    Seed both{"data_both_ways"};
    both.data(0, 1000);
    both.recv(0);
    both.send(0, 6000);
    both.ack(0);
    both.data(0, 1400);
    both.send(0, 100);
    both.recv(0, 700);
    both.recv(0);
    both.ack(0);
    out.push_back(both);

    // Two segments beyond a hole (SACKed back), then the hole.
    Seed ooo{"out_of_order_sack"};
    ooo.segment(0, SegmentRecord{.flags = kAck,
                                 .bases = seq_rcv_nxt | ack_snd_max,
                                 .seq_offset = 1000,
                                 .window = kScaledWindow,
                                 .options = timestamps,
                                 .payload_len = 500});
    ooo.segment(0, SegmentRecord{.flags = kAck,
                                 .bases = seq_rcv_nxt | ack_snd_max,
                                 .seq_offset = 2000,
                                 .window = kScaledWindow,
                                 .options = timestamps,
                                 .payload_len = 500});
    ooo.data(0, 1000);
    ooo.recv(0);
    ooo.data(0, 500);
    ooo.recv(0);
    out.push_back(ooo);

    // The stack's data: the first segment lost; three duplicate ACKs with SACK blocks
    // (RFC 6675) bring it again, then everything is acknowledged.
    Seed sack{"peer_sack_recovery"};
    sack.send(0, 8000);
    for (int16_t right : {2896, 4344, 5792}) {
        sack.segment(0, SegmentRecord{.flags = kAck,
                                      .bases = seq_rcv_nxt | ack_snd_una,
                                      .window = kScaledWindow,
                                      .options = timestamps | seg_options::sack,
                                      .sack_count = 1,
                                      .sacks = {RawSack{1448, uint16_t(right - 1448)}}});
    }
    sack.ack(0);
    out.push_back(sack);

    Seed reno{"newreno_fast_retransmit", config_bits::new_reno | config_bits::no_sack};
    reno.send(0, 8000);
    for (int i = 0; i < 4; ++i)
        reno.segment(
            0, SegmentRecord{
                   .flags = kAck, .bases = seq_rcv_nxt | ack_snd_una, .window = kScaledWindow, .options = timestamps});
    reno.segment(0, SegmentRecord{.flags = kAck,
                                  .bases = seq_rcv_nxt | ack_snd_una,
                                  .ack_offset = 1448,
                                  .window = kScaledWindow,
                                  .options = timestamps});
    reno.ack(0);
    out.push_back(reno);

    Seed rto{"retransmission_timeout"};
    rto.send(0, 3000);
    rto.next_timer(4);
    rto.ack(0);
    out.push_back(rto);
}

void windows_and_paths(std::vector<Seed>& out) {
    Seed delayed{"delayed_ack"};
    delayed.data(0, 1448, kAck);
    delayed.next_timer();
    delayed.data(0, 100);
    delayed.wait(50);
    out.push_back(delayed);

    // The peer's window closes with data waiting: persist probes, then it opens.
    Seed zero{"zero_window"};
    zero.send(0, 5000);
    zero.ack(0, 0);
    zero.send(0, 1000);
    zero.next_timer(3);
    zero.ack(0);
    zero.ack(0);
    out.push_back(zero);

    // Our receive buffer (4 KB) fills: the stack's window closes, the peer probes.
    Seed full{"receive_window_full", 1 << config_bits::buffers_shift};
    full.data(0, 1400);
    full.data(0, 1400);
    full.data(0, 1400);
    full.data(0, 1400);
    full.segment(0, SegmentRecord{.flags = kAck,
                                  .bases = seq_rcv_nxt | ack_snd_max,
                                  .seq_offset = -1,
                                  .window = kScaledWindow,
                                  .options = timestamps});
    full.recv(0, 3000);
    full.recv(0);
    out.push_back(full);

    Seed scaled{"large_receive_buffer", 2 << config_bits::buffers_shift};
    scaled.data(0, 1400);
    scaled.send(0, 3000);
    scaled.ack(0);
    scaled.recv(0);
    out.push_back(scaled);

    Seed pmtu{"icmp_frag_needed"};
    pmtu.send(0, 4000);
    pmtu.app(0, AppAction::icmp, 0 | (22 << 2));  // MTU 574
    pmtu.ack(0);
    out.push_back(pmtu);

    Seed paws{"paws_old_timestamp"};
    paws.data(0, 100);
    paws.segment(0, SegmentRecord{.flags = kAck | kPsh,
                                  .bases = seq_rcv_nxt | ack_snd_max,
                                  .window = kScaledWindow,
                                  .options = timestamps,
                                  .ts_offset = -100,
                                  .payload_len = 100});
    out.push_back(paws);
}

void closing(std::vector<Seed>& out) {
    Seed passive{"fin_passive_close"};
    passive.fin(0);
    passive.recv(0);
    passive.app(0, AppAction::close);
    passive.ack(0);
    out.push_back(passive);

    Seed active{"fin_active_close_time_wait"};
    active.app(0, AppAction::close);
    active.ack(0);
    active.fin(0);
    active.fin(0);  // again: our ACK was lost
    active.wait(kFiftySixSeconds);
    active.wait(kTenSeconds);
    out.push_back(active);

    Seed simultaneous{"simultaneous_close"};
    simultaneous.app(0, AppAction::shutdown, 1);
    simultaneous.segment(
        0,
        SegmentRecord{
            .flags = kAck | kFin, .bases = seq_rcv_nxt | ack_snd_una, .window = kScaledWindow, .options = timestamps});
    simultaneous.ack(0);
    simultaneous.recv(0);
    out.push_back(simultaneous);

    Seed half{"half_close"};
    half.send(0, 1000);
    half.app(0, AppAction::shutdown, 1);
    half.ack(0);
    half.data(0, 500);
    half.recv(0);
    half.app(0, AppAction::close);
    out.push_back(half);

    Seed reuse{"time_wait_reuse"};
    reuse.app(0, AppAction::close);
    reuse.ack(0);
    reuse.fin(0);
    reuse.segment(0, SegmentRecord{.flags = kSyn,
                                   .bases = seq_peer_next,
                                   .seq_offset = 30000,
                                   .window = 65535,
                                   .options = mss | timestamps,
                                   .mss = 1000});
    reuse.ack(0);
    reuse.app(0, AppAction::accept);
    out.push_back(reuse);

    Seed ooo_fin{"fin_beyond_gap"};
    ooo_fin.segment(0, SegmentRecord{.flags = kAck | kFin,
                                     .bases = seq_rcv_nxt | ack_snd_max,
                                     .seq_offset = 300,
                                     .window = kScaledWindow,
                                     .options = timestamps,
                                     .payload_len = 200});
    ooo_fin.data(0, 300);
    ooo_fin.recv(0);
    ooo_fin.app(0, AppAction::close);
    ooo_fin.ack(0);
    out.push_back(ooo_fin);

    Seed unread{"close_with_unread_data"};
    unread.data(0, 700);
    unread.app(0, AppAction::close);
    out.push_back(unread);

    Seed linger{"linger_zero_close"};
    linger.send(0, 100);
    linger.app(0, AppAction::setsockopt, 7 | (1 << 3));  // SO_LINGER on, 0 s
    linger.app(0, AppAction::close);
    out.push_back(linger);

    Seed listener{"listener_closed_with_children", config_bits::no_startup_connection};
    listener.syn(1);
    listener.syn(2);
    listener.ack(2);
    listener.app(0, AppAction::listener);
    listener.app(0, AppAction::listener, 1);
    listener.syn(3);
    out.push_back(listener);
}

void resets_and_timers(std::vector<Seed>& out) {
    Seed rst{"rst_exact"};
    rst.segment(0, SegmentRecord{.flags = kRst, .bases = seq_rcv_nxt});
    rst.recv(0);
    out.push_back(rst);

    Seed challenge{"rst_and_syn_challenged"};
    challenge.segment(0, SegmentRecord{.flags = kRst, .bases = seq_rcv_nxt, .seq_offset = 100});
    challenge.syn(0);
    challenge.segment(0, SegmentRecord{.flags = kAck,
                                       .bases = seq_rcv_nxt | ack_snd_max,
                                       .ack_offset = 1000,
                                       .window = kScaledWindow,
                                       .options = timestamps});
    challenge.data(0, 10);
    out.push_back(challenge);

    Seed keepalive{"keepalive_timeout", 0, config_bits::listener_keepalive};
    keepalive.wait(kTenSeconds);
    keepalive.wait(kTenSeconds);
    keepalive.next_timer();
    keepalive.ack(0);
    keepalive.next_timer(6);
    keepalive.recv(0);
    out.push_back(keepalive);

    Seed user_timeout{"user_timeout"};
    user_timeout.app(0, AppAction::setsockopt, 5 | (200 << 3));  // 3.2 s
    user_timeout.send(0, 1000);
    user_timeout.next_timer(5);
    user_timeout.recv(0);
    out.push_back(user_timeout);

    Seed flood{"out_of_order_flood"};
    for (int16_t i = 1; i <= 18; ++i)
        flood.segment(0, SegmentRecord{.flags = kAck,
                                       .bases = seq_rcv_nxt | ack_snd_max,
                                       .seq_offset = int16_t(i * 20),
                                       .window = kScaledWindow,
                                       .options = timestamps,
                                       .payload_len = 10});
    flood.data(0, 20);
    flood.recv(0);
    out.push_back(flood);

    Seed garbage{"garbage_options"};
    garbage.segment(0, SegmentRecord{.flags = kAck | kPsh,
                                     .bases = seq_rcv_nxt | ack_snd_max,
                                     .window = kScaledWindow,
                                     .options = raw,
                                     .raw = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 99, 4, 1, 2},
                                     .payload_len = 20});
    garbage.segment(
        0,
        SegmentRecord{
            .flags = kAck, .bases = seq_rcv_nxt | ack_snd_max, .window = kScaledWindow, .options = raw, .raw = {5, 1}});
    garbage.segment(0, SegmentRecord{.flags = kAck,
                                     .bases = seq_rcv_nxt | ack_snd_max,
                                     .window = kScaledWindow,
                                     .options = bad_checksum,
                                     .payload_len = 30});
    out.push_back(garbage);

    Seed readiness{"readiness"};
    readiness.app(0, AppAction::readiness);
    readiness.data(0, 5);
    readiness.app(0, AppAction::readiness);
    readiness.app(0, AppAction::peek, 2);
    readiness.fin(0);
    readiness.recv(0);
    readiness.app(0, AppAction::readiness);
    out.push_back(readiness);
}

}  // namespace
}  // namespace quasi::fuzz

int main(int argc, char** argv) {
    using namespace quasi::fuzz;
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <output directory>\n", argv[0]);
        return 2;
    }
    std::vector<Seed> seeds;
    handshakes(seeds);
    data_transfer(seeds);
    windows_and_paths(seeds);
    closing(seeds);
    resets_and_timers(seeds);
    for (Seed& seed : seeds) {
        const std::string path = std::string(argv[1]) + "/" + seed.name;
        const std::vector<uint8_t>& bytes = seed.w.bytes();
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
            std::fprintf(stderr, "make_tcp_corpus: cannot write %s\n", path.c_str());
            return 1;
        }
    }
    return 0;
}
