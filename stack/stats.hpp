// Counters for everything the stack does and, above all, for every reason it drops
// a packet. Each drop in the code goes through Stats::drop with one of these
// reasons, so `stats()` explains every frame that did not arrive.
#pragma once

#include <cstddef>
#include <cstdint>

namespace quasi {

// X(name, description)
#define QUASI_DROP_REASONS(X)                                                             \
    X(eth_too_short, "Ethernet frame shorter than its header")                           \
    X(eth_not_for_us, "destination MAC neither ours, broadcast nor multicast we joined") \
    X(eth_unknown_ethertype, "EtherType not ARP or IPv4")                                \
    X(eth_vlan_not_ours, "802.1Q tag with a VLAN ID we are not on")                       \
    X(eth_bad_source_mac, "source MAC is multicast or broadcast")                         \
    X(arp_too_short, "ARP packet shorter than its fixed part")                           \
    X(arp_unsupported, "ARP hardware/protocol type or lengths not Ethernet/IPv4")        \
    X(arp_bad_opcode, "ARP operation neither request nor reply")                         \
    X(arp_bad_sender, "ARP sender MAC multicast/broadcast or sender IP invalid")         \
    X(arp_address_conflict, "ARP sender IP is one of ours (RFC 5227 conflict)")          \
    X(arp_unsolicited_reply, "ARP reply for an address we did not ask about")            \
    X(arp_not_for_us, "ARP request for an address that is not ours")                     \
    X(arp_cache_full, "ARP cache full of entries in use")                                \
    X(arp_queue_full, "packet waiting for ARP resolution found the queue full")          \
    X(arp_unresolved, "ARP resolution gave up; queued packet dropped")                   \
    X(ipv4_too_short, "IPv4 packet shorter than 20 bytes")                               \
    X(ipv4_bad_version, "IPv4 version field is not 4")                                   \
    X(ipv4_bad_header_length, "IPv4 IHL below 5 or beyond the packet")                   \
    X(ipv4_bad_total_length, "IPv4 total length beyond the frame or below the header")   \
    X(ipv4_bad_checksum, "IPv4 header checksum wrong")                                   \
    X(ipv4_bad_source, "IPv4 source broadcast, multicast, 0/8 or class E")               \
    X(ipv4_not_for_us, "IPv4 destination not one of our addresses")                      \
    X(ipv4_unknown_protocol, "IPv4 protocol not ICMP, UDP or TCP")                       \
    X(ipv4_no_route, "no route to the destination")                                      \
    X(ipv4_too_big_df, "datagram larger than the MTU with DF set")                       \
    X(frag_overlap, "overlapping fragments: whole datagram dropped")                     \
    X(frag_too_big, "reassembled datagram would exceed 65535 bytes")                     \
    X(frag_bad_length, "non-final fragment length not a multiple of 8")                  \
    X(frag_timeout, "reassembly timed out")                                              \
    X(frag_memory_full, "reassembly memory limit reached")                               \
    X(frag_too_many_fragments, "too many fragments for one datagram")                    \
    X(frag_table_full, "too many datagrams under reassembly")                            \
    X(frag_inconsistent, "fragment contradicts an earlier last fragment")                \
    X(frag_duplicate, "exact duplicate of a fragment already held (ignored)")            \
    X(icmp_too_short, "ICMP message shorter than its header")                            \
    X(icmp_bad_checksum, "ICMP checksum wrong")                                          \
    X(icmp_unsupported_type, "ICMP type or code we do not handle")                       \
    X(icmp_bad_embedded, "ICMP error with a malformed or unrelated embedded header")     \
    X(icmp_rate_limited, "ICMP error not sent: rate limit")                              \
    X(icmp_broadcast_echo, "echo request to a broadcast address ignored")                \
    X(udp_too_short, "UDP datagram shorter than 8 bytes")                                \
    X(udp_bad_length, "UDP length field inconsistent with the IP payload")               \
    X(udp_bad_checksum, "UDP checksum wrong")                                            \
    X(udp_no_socket, "no UDP socket on the destination port")                            \
    X(udp_queue_full, "UDP socket receive queue full")                                   \
    X(tcp_too_short, "TCP segment shorter than 20 bytes")                                \
    X(tcp_bad_data_offset, "TCP data offset below 5 or beyond the segment")              \
    X(tcp_bad_option, "TCP option with a bad length")                                    \
    X(tcp_bad_checksum, "TCP checksum wrong")                                            \
    X(tcp_bad_flags, "TCP flags combination that no peer sends (none, SYN+FIN, SYN+RST, Xmas)") \
    X(tcp_land, "TCP segment from our own address and port (LAND)") \
    X(tcp_to_broadcast, "TCP segment to a broadcast address") \
    X(tcp_no_socket, "TCP segment for no connection or listener (answered with RST)") \
    X(tcp_rst_to_listener, "RST to a listening socket") \
    X(tcp_ack_to_listener, "ACK to a listening socket without a valid SYN cookie") \
    X(tcp_accept_queue_full, "SYN dropped: accept queue full") \
    X(tcp_syn_queue_full, "SYN dropped: SYN queue full and SYN cookies off") \
    X(tcp_no_memory, "TCP segment or connection dropped: sockets or ring memory exhausted") \
    X(tcp_bad_ack, "ACK that does not acknowledge our SYN") \
    X(tcp_bad_rst, "RST in SYN-SENT without an acceptable ACK") \
    X(tcp_no_ack, "segment without ACK in a synchronized state") \
    X(tcp_paws, "PAWS: timestamp older than TS.Recent") \
    X(tcp_out_of_window, "segment outside the receive window") \
    X(tcp_rst_in_time_wait, "RST in TIME-WAIT ignored (RFC 1337)") \
    X(tcp_challenged, "RST/SYN/ACK answered with a challenge ACK (RFC 5961)") \
    X(tcp_ack_unsent, "ACK for data not yet sent") \
    X(tcp_data_after_fin, "data after the peer's FIN or in a state that takes none") \
    X(tcp_ooo_full, "out-of-order segment dropped: range table full") \
    X(remote_reply_malformed, "remote spec reply refused: framing, header or a field out of range") \
    X(remote_reply_bad_mac, "remote spec reply refused: MAC does not verify under the device key") \
    X(remote_reply_stale_nonce, "remote spec reply refused: not the outstanding request's nonce (replay)") \
    X(remote_reply_mismatch, "remote spec reply refused: target, path, address, size, entry or symbols differ") \
    X(remote_request_refused, "remote spec request answered with an error status: generic path kept") \
    X(remote_timeout, "remote spec request timed out (server slow or silent): generic path kept") \
    X(remote_connect_failed, "remote spec server unreachable or connection lost: generic path kept") \
    X(remote_verify_mismatch, "remotely specialized code built another frame than the generic path: code dropped") \
    X(tx_ring_full, "transmit: device queue full")                                       \
    X(tx_no_buffer, "transmit: buffer pool exhausted")                                   \
    X(rx_no_buffer, "receive: buffer pool exhausted")

#define QUASI_COUNTERS(X)                                      \
    X(rx_frames, "frames received")                            \
    X(rx_bytes, "bytes received")                              \
    X(tx_frames, "frames transmitted")                         \
    X(tx_bytes, "bytes transmitted")                           \
    X(arp_requests_sent, "ARP requests sent")                  \
    X(arp_replies_sent, "ARP replies sent")                    \
    X(arp_entries_learned, "ARP entries created or refreshed") \
    X(ipv4_rx, "IPv4 datagrams delivered locally")             \
    X(ipv4_tx, "IPv4 datagrams sent")                          \
    X(ipv4_fragments_tx, "IPv4 fragments sent")                \
    X(ipv4_reassembled, "IPv4 datagrams reassembled")          \
    X(icmp_echo_replies, "ICMP echo replies sent")             \
    X(icmp_errors_sent, "ICMP errors sent")                    \
    X(icmp_errors_rx, "ICMP errors received")                  \
    X(pmtu_updates, "path MTU lowered by ICMP")                \
    X(guard_checks_slow, "specialized-handle sends that took the guards' slow path") \
    X(guard_violation_socket_identity, "guard violations: socket addresses or ports changed") \
    X(guard_violation_socket_option, "guard violations: a frozen socket option changed") \
    X(guard_violation_route, "guard violations: the route table changed") \
    X(guard_violation_neighbour, "guard violations: the next hop's ARP entry changed") \
    X(guard_violation_interface_mtu, "guard violations: the interface MTU changed") \
    X(guard_violation_path_mtu, "guard violations: the path MTU cache changed") \
    X(guard_violation_mss, "guard violations: a connection's send MSS changed") \
    X(guard_violation_forced, "guard violations: fired on purpose (deopt stress, forced invalidation)") \
    X(guard_violation_message_size, "guard violations: a send of another length than the declared one") \
    X(guard_policy_fallback, "guard violations handled by falling back and re-specializing") \
    X(guard_policy_reject, "guard violations handled by rejecting the call") \
    X(guard_policy_reinforce, "guard violations handled by reinforcing the stale code at egress") \
    X(guard_reinforce_unavailable, "reinforce asked but impossible (no route, unresolved next hop): fell back") \
    X(guard_reinforced_frames, "frames of stale specialized code rewritten at egress") \
    X(guard_reinforced_bytes, "bytes of stale specialized code's frames rewritten at egress") \
    X(guard_recut_segments, "TCP segments cut at egress from oversize ones (MSS/PMTU lowered)") \
    X(guard_fragments, "IPv4 fragments made at egress from oversize UDP datagrams") \
    X(guard_translations, "source addresses NAT-translated at egress (route moved interfaces)") \
    X(guard_translations_back, "replies to a NAT-translated source translated back on ingress") \
    X(guard_replugs, "specialized code versions that started running in a handle") \
    X(udp_rx, "UDP datagrams queued to sockets")               \
    X(tcp_segments_rx, "tcp segments rx") \
    X(tcp_segments_tx, "tcp segments tx") \
    X(tcp_retransmits, "tcp retransmits") \
    X(tcp_rto_expiries, "tcp rto expiries") \
    X(tcp_fast_retransmits, "tcp fast retransmits") \
    X(tcp_lost_retransmits, "tcp retransmissions found lost by later SACKs and sent again") \
    X(tcp_spurious_recoveries, "tcp fast retransmits undone as spurious (Eifel)") \
    X(tcp_tail_loss_probes, "tcp tail loss probes sent (RFC 8985 TLP)") \
    X(tcp_rack_reorder_timeouts, "tcp RACK reordering timer expiries (RFC 8985 6.3)") \
    X(tcp_rack_recoveries, "tcp recoveries started by RACK's time rule") \
    X(tcp_rto_sack_recoveries, "tcp RTOs recovered with the SACK scoreboard kept") \
    X(tcp_sack_reneging, "tcp ACKs up to SACKed data: the peer reneged, scoreboard dropped") \
    X(tcp_dsacks_rx, "tcp D-SACKs received (a duplicate arrived: RACK's window widens)") \
    X(tcp_dup_acks, "tcp dup acks") \
    X(tcp_resets_sent, "tcp resets sent") \
    X(tcp_linger_timeouts, "tcp connections reset as their SO_LINGER time ran out unacknowledged") \
    X(tcp_resets_rx, "tcp resets rx") \
    X(tcp_challenge_acks, "tcp challenge acks") \
    X(tcp_syn_cookies_sent, "tcp syn cookies sent") \
    X(tcp_syn_cookies_accepted, "tcp syn cookies accepted") \
    X(tcp_passive_opens, "tcp passive opens") \
    X(tcp_active_opens, "tcp active opens") \
    X(tcp_established, "tcp established") \
    X(tcp_time_wait_reused, "tcp time wait reused") \
    X(tcp_time_wait_entered, "connections that left a TIME-WAIT record (their socket freed)") \
    X(tcp_time_wait_retired_early, "TIME-WAIT records retired before 2*MSL: the table was full") \
    X(tcp_time_wait_fin_acked, "retransmitted FINs ACKed from a TIME-WAIT record (2*MSL restarted)") \
    X(tcp_keepalive_probes, "tcp keepalive probes") \
    X(tcp_window_probes, "tcp window probes") \
    X(tcp_out_of_order, "tcp out of order") \
    X(tcp_mss_lowered, "tcp mss lowered") \
    X(remote_requests, "remote spec requests sent to the server") \
    X(remote_code_installed, "remotely specialized code installed in the code buffer") \
    X(remote_verified_sends, "sends whose specialized frame was checked against the generic path's") \
    X(udp_tx, "UDP datagrams sent")

enum class Drop : uint16_t {
#define QUASI_ENUM(name, text) name,
    QUASI_DROP_REASONS(QUASI_ENUM)
#undef QUASI_ENUM
        count_
};

enum class Counter : uint16_t {
#define QUASI_ENUM(name, text) name,
    QUASI_COUNTERS(QUASI_ENUM)
#undef QUASI_ENUM
        count_
};

constexpr size_t kDropReasonCount = static_cast<size_t>(Drop::count_);
constexpr size_t kCounterCount = static_cast<size_t>(Counter::count_);

const char* name(Drop reason);
const char* description(Drop reason);
const char* name(Counter counter);

struct Stats {
    uint64_t drops[kDropReasonCount] = {};
    uint64_t counters[kCounterCount] = {};

    void drop(Drop reason) { ++drops[static_cast<size_t>(reason)]; }
    void count(Counter c, uint64_t n = 1) { counters[static_cast<size_t>(c)] += n; }
    uint64_t operator[](Drop reason) const { return drops[static_cast<size_t>(reason)]; }
    uint64_t operator[](Counter c) const { return counters[static_cast<size_t>(c)]; }
    uint64_t total_drops() const;
};

}  // namespace quasi
