// Reinforcement: the stale code keeps running, its frames are corrected at egress.
//
// When the environment moves under a specialized handle (a route, a gateway, an ARP
// entry, an interface, an MTU or the MSS changes), its code is stale but every
// frame it builds is still a correct transport datagram for the connection: only
// the way out is wrong. An EgressRule, made for one handle's stale code version,
// takes each frame that code hands to the transmit door (quasi_interface_transmit,
// which sends through the rule while the handle runs that version) and re-sends its
// datagram through the live IPv4 output: the live route picks the interface and
// the next hop, ARP its MAC (queueing while it resolves), the live path MTU the
// size check. On top of that:
// - NAT: where the generic path would now pick another source address (a UDP socket
//   bound to the wildcard whose route moved to an interface with another address),
//   the source is translated and the UDP checksum fixed incrementally (RFC 1624).
//   While the rule lives, the flow's replies (from the peer's address and port to
//   the translated address and the socket's port) are translated back before
//   delivery (translate_ingress): the socket sees the flow with the address its
//   code sends from, as a NAT in front of it would show it. Such a socket would
//   take them addressed to either, but the datagram it reads then carries an
//   address and a checksum that agree with its view of the flow.
// - Re-cutting: a TCP segment larger than the live MSS or path MTU allows is cut
//   into segments of that size (sequence numbers advanced, options repeated in each
//   (timestamps too), PSH and FIN on the last piece only, checksums recomputed).
//   TCP's accounting is per byte (send ring, SND.NXT, SACK scoreboard, cwnd in
//   bytes; RTT samples from timestamps or a sequence number), so it stays as the
//   stale code left it; a RACK send-time record then spans several wire segments.
// - Fragmenting: a UDP datagram larger than the live path MTU is fragmented by the
//   IPv4 output (RFC 791), as the generic path would (not with DF: no rule then).
// The rule lives in the handle and is retired when the handle replugs new code, so
// no code of the old version can run once it is gone (guards/replugger.hpp).
#pragma once

#include "stack/buffer.hpp"
#include "stack/wire/bytes.hpp"

#include <cstdint>
#include <optional>

namespace quasi {

class Interface;
class Stack;
struct GuardStats;
struct Ipv4Repr;

struct EgressRule {
    Stack* stack = nullptr;
    GuardStats* stats = nullptr;       // the handle's counters
    Interface* stale_iface = nullptr;  // where the stale code hands its frames (its frozen interface)
    uint64_t code_version = 0;         // the stale code version whose frames this rule takes
    Ipv4Addr translate_from;           // NAT: the stale code's source address...
    Ipv4Addr translate_to;             // ...and the generic path's now (unspecified: no NAT)
    uint16_t tcp_mss = 0;              // TCP: the live send MSS (payload and options); 0: UDP
    // NAT only: the flow whose replies are translated back (translate_ingress).
    Ipv4Addr peer;
    uint16_t peer_port = 0;
    uint16_t local_port = 0;
    EgressRule* next_ingress = nullptr;  // Stack::ingress_rules, while attached
};

// What the stale code was made for, to build its rule from the live state.
struct StaleCode {
    Interface* iface = nullptr;  // its frozen interface
    uint64_t version = 0;
    Ipv4Addr src;                // the source address its frames carry
    Ipv4Addr dst;
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    bool wildcard_source = false;    // UDP bound to 0.0.0.0: the source follows the route
    bool tcp = false;
    uint16_t live_mss = 0;           // TCP: the socket's snd_mss now
    bool dont_fragment = false;      // UDP IP_PMTUDISC_DO
    uint16_t max_datagram = 0;       // UDP: the largest IP datagram the code may send
};

// The rule for `stale`, or nothing when no reinforcement is correct now: no route to
// the peer, or a UDP datagram with DF that no longer fits the path.
std::optional<EgressRule> make_egress_rule(Stack& stack, GuardStats& stats, const StaleCode& stale);

// Sends one frame of the stale code as the live path would (see above).
void reinforce_egress(EgressRule& rule, PacketPtr frame);

// A translating rule's replies are translated back while it is attached to its
// stack (Stack::ingress_rules); a rule without translation is never attached.
void attach_ingress(EgressRule& rule);
void detach_ingress(EgressRule& rule);
// IPv4 input, after the datagram was accepted for a local address and reassembled:
// a reply of a translated flow gets the stale code's source address back as its
// destination, header and transport checksums fixed incrementally (RFC 1624).
void translate_ingress(Stack& stack, Ipv4Repr& ip, size_t header_len, PacketBuffer& datagram);

// While the handle calls its stale code: the door sends that code's frames through
// the rule. One handle on one stack (thread) at a time, as the code runs.
class EgressScope {
public:
    explicit EgressScope(EgressRule& rule);
    ~EgressScope();
    EgressScope(const EgressScope&) = delete;
    EgressScope& operator=(const EgressScope&) = delete;

private:
    EgressRule* rule_;
};

}  // namespace quasi
