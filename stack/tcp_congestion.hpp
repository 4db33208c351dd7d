// TCP congestion control, selectable per socket: NewReno (RFC 5681 + RFC 6582, with RFC
// 3465 byte counting, L = 2*SMSS) and CUBIC (RFC 9438).
//
// One concrete class switching on the algorithm instead of virtual dispatch: the state of
// both algorithms is a few dozen bytes held by value in the connection (no allocation, no
// vtable), and a specializing build that knows the algorithm folds the switch away.
//
// The caller owns loss detection (dup-ACK counting, SACK scoreboard, the RTO timer) and
// reports events; this class answers one question, cwnd. Windows are bytes (RFC 5681 is
// byte-based); CUBIC's curve (RFC 9438, defined in segments) is evaluated in bytes with
// integer fixed point, so the per-ACK path has no floating point (FPU-less Cortex-M3).
//
// FlightSize arguments are FlightSize as RFC 5681 defines it, the data sent but not
// cumulatively acknowledged (up to the highest byte ever sent, even if SND.NXT was rewound
// for a retransmission), measured at different moments: on_ack takes it from when the ACK
// arrived (`flight_before`, old SND.UNA, so it includes acked_bytes: was the window in
// use?); on_recovery_ack after the ACK was applied (new SND.UNA: RFC 6582's "the amount
// of data presently outstanding"); on_enter_recovery and on_timeout at that moment.
#pragma once

#include "stack/clock.hpp"

#include <cstdint>

namespace quasi {

enum class CongestionAlgorithm : uint8_t { new_reno, cubic };

// floor(cbrt(a)), exactly, in integer arithmetic: a table seed then Newton's iteration.
uint32_t integer_cbrt(uint64_t a);

class CongestionControl {
public:
    // Member-wise: a recycled socket is compared with a fresh one (tcp_recycle_test).
    bool operator==(const CongestionControl&) const = default;
    // Below this an SMSS makes no sense (SACK Panic, CVE-2019-11477, abused tiny MSS);
    // 48 is Linux's TCP_MIN_SND_MSS. Callers clamp too; this keeps the arithmetic sane.
    static constexpr uint32_t kMinSmss = 48;
    static constexpr uint32_t kMaxSmss = 65535;
    // The largest window TCP can advertise (RFC 7323 2.3: 65535 << 14). cwnd never exceeds
    // it, and it is the "arbitrarily high" initial ssthresh RFC 5681 3.1 suggests.
    static constexpr uint32_t kMaxWindow = 65535u << 14;

    // Initial window: IW10 (RFC 6928: min(10*SMSS, max(2*SMSS, 14600))), as Linux since
    // 2.6.39, rather than RFC 5681 3.1's 3-4 segments; ssthresh starts at kMaxWindow.
    void init(CongestionAlgorithm algo, uint32_t smss, TimeNs now);
    // PMTU change. Before any ACK or loss the initial window is recomputed for the new
    // SMSS; afterwards cwnd and ssthresh stay in bytes (what the path holds did not
    // change) but respect the 1*SMSS and 2*SMSS floors, and CUBIC restarts its epoch
    // because its curve is scaled by SMSS.
    void set_smss(uint32_t smss);
    // With SACK the caller runs RFC 6675 loss recovery (sends while pipe < cwnd): entering
    // recovery sets cwnd = ssthresh without the 3*SMSS inflation, ACKs during recovery do
    // not inflate or deflate, and a full ACK leaves cwnd = ssthresh. Off by default.
    void set_sack_recovery(bool on) { sack_recovery_ = on; }
    // RFC 9438 4.7: SHOULD be on where flows compete, SHOULD be off for a lone flow. On.
    void set_cubic_fast_convergence(bool on) { fast_convergence_ = on; }

    CongestionAlgorithm algorithm() const { return algo_; }
    uint32_t smss() const { return smss_; }
    uint32_t cwnd() const { return cwnd_; }
    uint32_t ssthresh() const { return ssthresh_; }
    // RFC 5681 3.1 lets cwnd == ssthresh be either; we (like Linux) use congestion avoidance.
    bool in_slow_start() const { return cwnd_ < ssthresh_; }
    bool in_recovery() const { return in_recovery_; }
    // RFC 6582 `recover`, stored as SND.NXT at the time (one past the highest byte sent),
    // so "the ACK covers recover" is seq_ge(ack, recover()).
    uint32_t recover() const { return recover_; }
    // RFC 6582 3.2 step 2 (and RFC 6675's RecoveryPoint): three dup ACKs start fast
    // retransmit only once the cumulative ACK has covered the recover point of the last
    // recovery or RTO, which avoids a second window reduction for the same loss event.
    // Tracked as bytes still to be acknowledged, so it survives sequence wrap and needs
    // no SND.NXT at timeout time.
    bool may_enter_recovery() const { return bytes_to_recover_ == 0; }

    // New data cumulatively acknowledged outside recovery. Grows cwnd: slow start with
    // ABC (RFC 3465, L = 2*SMSS; 1*SMSS in the slow start after an RTO, RFC 3465 2.3),
    // congestion avoidance by byte counting (RFC 5681 3.1, +SMSS per cwnd acked) or
    // CUBIC's W_cubic(t + rtt) / W_est (RFC 9438 4.2-4.5). rtt: SRTT (RFC 9438 4.2).
    // cwnd grows only while it is being used (RFC 7661's premise, RFC 9438 4.6 and 5.8):
    // flight_before within one SMSS of cwnd, or, in slow start, more than half of it (as
    // Linux's tcp_is_cwnd_limited). An application- or receiver-limited sender keeps its
    // cwnd, and CUBIC's t does not advance meanwhile.
    void on_ack(uint32_t acked_bytes, uint32_t flight_before, TimeNs now, TimeNs rtt);

    // Fast retransmit on three dup ACKs or SACK loss detection: enter fast recovery.
    // NewReno: ssthresh = max(FlightSize/2, 2*SMSS) (RFC 5681 eq. 4). CUBIC: W_max with
    // fast convergence, ssthresh = max(cwnd*0.7, 2*SMSS) (RFC 9438 4.6, 4.7; cwnd rather
    // than FlightSize, as Linux, which 4.6 allows because cwnd only grows when used).
    // Then cwnd = ssthresh + 3*SMSS (RFC 5681 3.2 step 3) and recover = snd_nxt (RFC 6582),
    // which must be one past the highest byte ever sent (SND.MAX where SND.NXT rewinds).
    // The caller checks may_enter_recovery() first; a call while in recovery is ignored.
    void on_enter_recovery(uint32_t flight_size, uint32_t snd_nxt, TimeNs now);
    // An ACK advancing SND.UNA during recovery (RFC 6582 3.2). Full ACK (ack covers
    // recover): recovery ends with cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS),
    // option (1) of step 6, chosen because it cannot burst; returns true. Partial ACK:
    // cwnd deflated by acked_bytes, plus SMSS back if at least SMSS was acked (step 5); the
    // caller retransmits the next hole. Returns false when not in recovery.
    bool on_recovery_ack(uint32_t ack, uint32_t acked_bytes, uint32_t flight_size);
    // A further dup ACK in non-SACK recovery: cwnd += SMSS (RFC 5681 3.2 step 4).
    void on_dup_ack_in_recovery();
    // Retransmission timer expiry: ssthresh as on entering recovery (RFC 5681 eq. 4;
    // CUBIC's beta, RFC 9438 4.8), cwnd = 1*SMSS (the loss window, RFC 5681 3.1). If the
    // timer expires again before any new data is acknowledged, ssthresh is held (RFC 5681
    // 3.1: "the value of ssthresh is held constant" for a segment already retransmitted by
    // the timer). Ends any fast recovery and arms RFC 6582 section 4's recover check.
    void on_timeout(uint32_t flight_size, TimeNs now);
    // RFC 5681 4.1: the caller has sent nothing for longer than `rto` and is about to send:
    // cwnd = min(cwnd, RW) with RW = IW. ssthresh keeps 3/4 of the old cwnd (RFC 2861,
    // Linux tcp_cwnd_restart) so slow start returns quickly to the validated rate. The
    // caller decides the idle period exceeded rto; the value is not otherwise used.
    void on_idle_restart(TimeNs rto);

    // CUBIC state, for tests and diagnostics: W_max in bytes, K of the current epoch
    // (ms resolution), and whether an epoch (congestion avoidance stage) is running.
    uint32_t cubic_w_max() const { return cubic_.w_max; }
    TimeNs cubic_k() const { return TimeNs{cubic_.k_ms} * kMillisecond; }
    bool cubic_epoch_running() const { return cubic_.epoch_running; }
    uint32_t cubic_w_est() const { return cubic_.w_est; }

private:
    struct Cubic {
        uint32_t w_max = 0;       // bytes; 0: no congestion event yet
        uint32_t cwnd_prior = 0;  // cwnd at the last reduction (RFC 9438 4.3 alpha switch)
        uint32_t origin = 0;      // the plateau of this epoch's curve (W_max, or cwnd_epoch)
        uint32_t k_ms = 0;
        uint32_t w_est = 0;       // bytes
        uint64_t w_est_credit = 0;
        uint64_t growth_credit = 0;
        TimeNs epoch_start = 0;
        TimeNs last_ack = 0;
        bool epoch_running = false;
        bool after_timeout = false;  // RFC 9438 4.8: next epoch uses K = 0
        bool operator==(const Cubic&) const = default;
    };

    uint32_t initial_window() const;
    bool cwnd_limited(uint32_t flight_before) const;
    uint32_t slow_start(uint32_t acked_bytes);
    void reno_avoidance(uint32_t acked_bytes);
    void cubic_avoidance(uint32_t acked_bytes, TimeNs now, TimeNs rtt);
    void cubic_start_epoch(TimeNs now);
    uint64_t cubic_window(uint64_t t_ms) const;
    void reduce_ssthresh(uint32_t flight_size);
    void consume_recover(uint32_t acked_bytes);

    CongestionAlgorithm algo_ = CongestionAlgorithm::new_reno;
    uint32_t smss_ = 536;
    uint32_t cwnd_ = 5360;  // IW10 for the RFC 9293 default SMSS
    uint32_t ssthresh_ = kMaxWindow;
    uint32_t recover_ = 0;
    uint32_t bytes_to_recover_ = 0;
    uint32_t avoidance_credit_ = 0;  // RFC 3465 bytes_acked
    bool in_recovery_ = false;
    bool started_ = false;                 // any ACK or loss since init
    bool timeout_retransmitting_ = false;  // RTO fired, no new data acknowledged since
    bool slow_start_after_rto_ = false;    // ABC L = 1*SMSS
    bool sack_recovery_ = false;
    bool fast_convergence_ = true;
    Cubic cubic_;
};

}  // namespace quasi
