// Initial sequence numbers (RFC 6528) and SYN cookies (RFC 4987 3.6), both keyed with
// SipHash-2-4 under a secret the owner draws at start-up (stack/random.hpp).
#pragma once

#include "stack/clock.hpp"
#include "stack/random.hpp"
#include "stack/wire/bytes.hpp"

#include <array>
#include <cstdint>

namespace quasi {

// RFC 6528 section 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
// M a timer ticking every 4 us (RFC 9293 3.4.1's clock) and F a keyed PRF (SipHash-2-4
// here, where RFC 6528 suggests MD5). Per 4-tuple, ISNs still advance with time, which
// keeps old duplicates of an earlier incarnation of the connection out of the new one's
// window; across 4-tuples an off-path attacker cannot predict them. `memo` (optional)
// keeps F for the last tuple: connect() asks for it twice when it takes a tuple back
// from a TIME-WAIT record (the RFC 6191 test, then the ISN itself).
uint32_t tcp_isn(const SipKey& key, Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport,
                 TimeNs now, SipHashMemo<3>* memo = nullptr);

// SYN cookies: under a SYN flood the listener answers without keeping state and rebuilds
// the connection from the final ACK (RFC 4987 3.6). Bernstein's layout, as Linux's:
//
//   plain  = counter mod 64 (6 bits) | MSS index (2 bits) | MAC (24 bits)
//   cookie = plain XOR mask
//
// counter = now / 64 s (kSynCookiePeriod); MAC = SipHash(key, addresses, ports, peer ISN,
// full counter, MSS index) mod 2^24; mask = SipHash(key, addresses, ports, peer ISN), so the
// whole ISN looks random to observers while the receiver can still unmask it first. The
// MAC binds every field: change any of them and the check fails but with probability
// 2^-24. A random 32-bit value passes with probability 3/64 * 2^-24 (about 2^-28.4): its
// counter bits must name one of the 3 accepted periods and the MAC must match.
//
// Window scale, SACK-permitted and timestamps are not encoded (Linux hides them in the
// timestamp); a cookie connection runs without them.
constexpr TimeNs kSynCookiePeriod = 64 * kSecond;
constexpr uint32_t kSynCookieMaxAge = 2;  // periods: a cookie lives 128 to 192 s
// The MSS values a cookie can carry. The peer gets the largest entry not above what it
// announced: 1460 (Ethernet), 1440 (PPPoE, tunnels, some VPNs), 1220 (the IPv6 minimum
// MTU 1280 minus 60, common behind tunnels), 536 (RFC 9293's default, and the answer for
// anything smaller: a tiny MSS is clamped rather than honoured, see bad-inputs.md).
constexpr std::array<uint16_t, 4> kSynCookieMssTable = {536, 1220, 1440, 1460};

// saddr/sport and daddr/dport: the two ends in any fixed orientation, the same for make
// and check (e.g. ours first). peer_isn is the SYN's sequence number.
uint32_t syn_cookie_make(const SipKey& key, Ipv4Addr saddr, uint16_t sport, Ipv4Addr daddr, uint16_t dport,
                         uint32_t peer_isn, uint16_t mss, TimeNs now);

// The final ACK of the handshake: cookie = SEG.ACK - 1 and peer_isn = SEG.SEQ - 1. True, with the encoded MSS in mss_out, if the cookie was made
// for this connection at most kSynCookieMaxAge periods ago. A false means "answer with a
// RST" (bad-inputs.md).
bool syn_cookie_check(const SipKey& key, Ipv4Addr saddr, uint16_t sport, Ipv4Addr daddr, uint16_t dport,
                      uint32_t cookie, uint32_t peer_isn, TimeNs now, uint16_t& mss_out);

}  // namespace quasi
