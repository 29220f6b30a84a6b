// Congestion control for one connection's send side, in bytes: the window (cwnd), the
// slow-start threshold and the recovery state, moved by the events the connection reports.
// Slow start, loss recovery and timeouts are shared (RFC 5681, 6582, 3465); what differs
// between algorithms is the threshold after a loss and the growth in congestion avoidance.
//
// The connection owns the loss detection: it decides what is a fast retransmit (DupThresh
// duplicate ACKs, or RFC 6675's IsLost with SACK, which RACK's marks feed), tracks the recovery
// point (SND.NXT when recovery began) and so tells a partial ACK from the one that ends recovery.
// Calls:
//   outside recovery   on_ack for each ACK that advances SND.UNA
//   loss detected      enter_recovery once (never again before exit_recovery or on_rto)
//   in recovery        on_dup_ack per further duplicate ACK, on_partial_ack per ACK below the
//                      recovery point, exit_recovery at the ACK that covers it
//   timer expired      on_rto (also inside recovery, which it ends)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "stack/clock.h"

namespace tapstack::tcp {

enum class CongestionControlKind : uint8_t { kCubic, kNewReno };

std::string_view to_string(CongestionControlKind kind);
std::optional<CongestionControlKind> parse_congestion_control(std::string_view name);

// How recovery counts what is in flight.
enum class RecoveryStyle : uint8_t {
  // RFC 6582 without SACK: cwnd is inflated by the segments that left the network (3 at entry,
  // 1 per duplicate ACK) and deflated by partial ACKs; the sender sends while the bytes
  // outstanding stay below cwnd.
  kDupAcks,
  // RFC 6675 with SACK: cwnd stays at ssthresh and the sender compares the scoreboard's pipe
  // with it instead; duplicate and partial ACKs leave cwnd alone.
  kSack,
};

class CongestionControl {
 public:
  static constexpr uint32_t kInitialWindowSegments = 10;     // RFC 6928, as Linux
  static constexpr uint32_t kInfiniteSsthresh = 0x7fffffff;  // Linux's TCP_INFINITE_SSTHRESH
  // No window above this: keeps the byte arithmetic far from overflow (a 30-bit window is
  // 1 GiB, beyond any send buffer).
  static constexpr uint32_t kMaxCwnd = 1u << 30;

  explicit CongestionControl(uint32_t mss);
  virtual ~CongestionControl() = default;
  CongestionControl(const CongestionControl&) = delete;
  CongestionControl& operator=(const CongestionControl&) = delete;

  // An ACK that advanced SND.UNA by `acked` bytes, outside recovery (ignored inside it).
  // `rtt`: the sample this ACK gave, if any. `in_flight`: the bytes outstanding when the ACK
  // arrived, counting those it acknowledges. The window grows only while the flow uses it
  // (RFC 7661's idea, as Linux's tcp_is_cwnd_limited): an application-limited sender keeps its
  // window instead of inflating one it never tested.
  void on_ack(uint32_t acked, Time now, std::optional<Duration> rtt, uint32_t in_flight);
  // Loss detected by duplicate ACKs or SACK (the fast retransmit follows): ssthresh from the
  // algorithm, cwnd to ssthresh (+ 3 MSS with kDupAcks). `flight_size`: bytes outstanding.
  void enter_recovery(Time now, uint32_t flight_size, RecoveryStyle style);
  // One more duplicate ACK in recovery: with kDupAcks cwnd grows by one MSS (RFC 5681 §3.2 (4)).
  void on_dup_ack();
  // An ACK below the recovery point that advanced SND.UNA by `acked` (RFC 6582 §3.2 (5)):
  // with kDupAcks cwnd deflates by `acked` and regains one MSS if `acked` was at least one.
  void on_partial_ack(uint32_t acked);
  // The ACK that covers the recovery point. `flight_size`: bytes outstanding after it. cwnd
  // becomes min(ssthresh, max(flight_size, MSS) + MSS), RFC 6582 §3.2 (3)'s first choice, which
  // avoids a burst when little is left in flight.
  void exit_recovery(uint32_t flight_size);
  // The retransmission timer expired: cwnd to the loss window (one MSS) and recovery ends.
  // ssthresh comes from the algorithm, except when `repeated` (the segment had already been
  // retransmitted by the timer): RFC 5681 §3.1 holds ssthresh then.
  void on_rto(Time now, uint32_t flight_size, bool repeated);

  uint32_t cwnd() const { return cwnd_; }
  uint32_t ssthresh() const { return ssthresh_; }
  bool in_recovery() const { return in_recovery_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }
  uint32_t mss() const { return mss_; }
  virtual CongestionControlKind kind() const = 0;

 protected:
  // A congestion event (recovery or the first timeout for a segment), before cwnd changes:
  // the algorithm updates its state and returns the new ssthresh (at least 2 MSS).
  virtual uint32_t on_congestion_event(Time now, uint32_t flight_size) = 0;
  // After a timeout's on_congestion_event (or in place of it when repeated).
  virtual void on_timeout() {}
  // Growth beyond ssthresh for an ACK of `acked` bytes; `cwnd_limited` says whether the flow
  // used its window (no growth when not, but the algorithm may keep its clock).
  virtual void congestion_avoidance(uint32_t acked, Time now, bool cwnd_limited) = 0;
  virtual void on_rtt_sample(Duration /*rtt*/) {}

  void set_cwnd(uint64_t cwnd);

  uint32_t cwnd_;
  uint32_t ssthresh_ = kInfiniteSsthresh;
  const uint32_t mss_;

 private:
  bool in_recovery_ = false;
  RecoveryStyle recovery_style_ = RecoveryStyle::kDupAcks;
};

std::unique_ptr<CongestionControl> make_congestion_control(CongestionControlKind kind,
                                                           uint32_t mss);

}  // namespace tapstack::tcp
