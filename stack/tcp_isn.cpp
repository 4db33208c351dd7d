#include "stack/tcp_isn.hpp"

namespace quasi {

namespace {

// Domain separation: the same key may serve ISNs, cookie masks and cookie MACs, and none
// of these hashes must ever equal another (an ISN must not reveal a cookie mask).
constexpr uint64_t kIsnTag = 0x7463702d69736e31ull;         // "tcp-isn1"
constexpr uint64_t kCookieMaskTag = 0x636f6f6b2d6d736bull;  // "cook-msk"
constexpr uint64_t kCookieMacTag = 0x636f6f6b2d6d6163ull;   // "cook-mac"

constexpr uint64_t pack_addresses(Ipv4Addr a, Ipv4Addr b) { return (uint64_t{a.value} << 32) | b.value; }
constexpr uint64_t pack_ports_isn(uint16_t a, uint16_t b, uint32_t isn) {
    return (uint64_t{a} << 48) | (uint64_t{b} << 32) | isn;
}

constexpr uint32_t kMacBits = 24;
constexpr uint32_t kMacMask = (1u << kMacBits) - 1;
constexpr uint32_t kCounterShift = 26;
constexpr uint32_t kCounterMask = 0x3F;  // 6 bits of the counter travel in the cookie

struct CookieInput {
    uint64_t addresses;
    uint64_t ports_isn;
};

uint32_t cookie_mask(const SipKey& key, const CookieInput& in) {
    const uint64_t words[] = {kCookieMaskTag, in.addresses, in.ports_isn};
    return static_cast<uint32_t>(siphash(key, words, 3));
}

uint32_t cookie_mac(const SipKey& key, const CookieInput& in, uint64_t counter, uint32_t mss_index) {
    const uint64_t words[] = {kCookieMacTag, in.addresses, in.ports_isn, (counter << 2) | mss_index};
    return static_cast<uint32_t>(siphash(key, words, 4)) & kMacMask;
}

}  // namespace

uint32_t tcp_isn(const SipKey& key, Ipv4Addr local, uint16_t lport, Ipv4Addr remote, uint16_t rport,
                 TimeNs now, SipHashMemo<3>* memo) {
    const uint64_t words[3] = {kIsnTag, pack_addresses(local, remote), pack_ports_isn(lport, rport, 0)};
    const uint32_t f = static_cast<uint32_t>(memo ? (*memo)(key, words) : siphash(key, words, 3));
    const uint32_t m = static_cast<uint32_t>(now / (4 * kMicrosecond));  // wraps every 4.77 h
    return m + f;
}

uint32_t syn_cookie_make(const SipKey& key, Ipv4Addr saddr, uint16_t sport, Ipv4Addr daddr, uint16_t dport,
                         uint32_t peer_isn, uint16_t mss, TimeNs now) {
    auto mss_index = static_cast<uint32_t>(kSynCookieMssTable.size() - 1);
    while (mss_index > 0 && kSynCookieMssTable[mss_index] > mss) --mss_index;
    const CookieInput in{pack_addresses(saddr, daddr), pack_ports_isn(sport, dport, peer_isn)};
    const uint64_t counter = now / kSynCookiePeriod;
    const uint32_t plain = ((static_cast<uint32_t>(counter) & kCounterMask) << kCounterShift) |
                           (mss_index << kMacBits) | cookie_mac(key, in, counter, mss_index);
    return plain ^ cookie_mask(key, in);
}

bool syn_cookie_check(const SipKey& key, Ipv4Addr saddr, uint16_t sport, Ipv4Addr daddr, uint16_t dport,
                      uint32_t cookie, uint32_t peer_isn, TimeNs now, uint16_t& mss_out) {
    const CookieInput in{pack_addresses(saddr, daddr), pack_ports_isn(sport, dport, peer_isn)};
    const uint32_t plain = cookie ^ cookie_mask(key, in);
    const uint64_t now_counter = now / kSynCookiePeriod;
    // The cookie carries the counter mod 64; its age is the distance back from now.
    const uint32_t age = (static_cast<uint32_t>(now_counter) - (plain >> kCounterShift)) & kCounterMask;
    if (age > kSynCookieMaxAge) return false;
    const uint32_t mss_index = (plain >> kMacBits) & 0x3;
    // The MAC covers the full counter, so a cookie 64 periods old that aliases a recent
    // one still fails here.
    if (cookie_mac(key, in, now_counter - age, mss_index) != (plain & kMacMask)) return false;
    mss_out = kSynCookieMssTable[mss_index];
    return true;
}

}  // namespace quasi
