// How far RACK's reordering window scales (RFC 8985 §6.2 step 4, RACK.reo_wnd_mult): a D-SACK
// says a retransmission was spurious, the original having arrived late rather than lost, so the
// window was too small for this path's reordering. It grows by one quarter of min_rtt per round
// trip that reports one, and falls back after 16 recoveries without one. Unlike RACK's record
// (rack.h) it outlives a flight: reordering is the path's, not one flight's.
#pragma once

#include <cstdint>
#include <optional>

#include "stack/header/tcp_options.h"

namespace tapstack::tcp {

class ReorderWindowScale {
 public:
  static constexpr uint8_t kPersistRecoveries = 16;  // RFC 8985's RACK.reo_wnd_persist
  // The window never exceeds SRTT (the caller's clamp); past this the multiplier adds nothing
  // any path could use, and an 8-bit count cannot wrap.
  static constexpr uint8_t kMaxMultiplier = 64;

  // An ACK moved SND.UNA to `snd_una`: the round of the last D-SACK may be over.
  void on_ack(uint32_t snd_una);
  // A tail loss probe sent [begin, end) again. TLP is timer-driven, not RACK's doing: a D-SACK
  // of it says nothing of the reordering window (Linux's FLAG_DSACK_TLP).
  void on_probe(uint32_t begin, uint32_t end);
  // What the connection stood at when a D-SACK arrived.
  struct Flight {
    uint32_t snd_nxt;
    uint32_t mss;            // the largest segment we send
    uint32_t max_window;     // the largest window the peer offered
    uint64_t retransmitted;  // segments sent again over the connection's life
  };
  // A D-SACK of `block` arrived. The multiplier grows, once per round trip (RACK.dsack_round: not
  // again before SND.UNA passes what was in flight then), unless the duplicate is the last
  // probe's, or D-SACKs have reported more segments than were ever sent again: those duplicates
  // were made by the network or forged, and say nothing of our retransmissions (Linux's
  // tcp_dsack_seen, dsack_dups against total_retrans). A block longer than any window the peer
  // offered is no duplicate at all and is not counted (Linux's "dubious DSACK"): else one forged
  // block would close the gate for the connection's life.
  void on_dsack(const header::SackBlock& block, const Flight& flight);
  // A fast recovery or RTO recovery ended.
  void on_recovery_end();

  // RACK.reo_wnd_mult: the window is this many quarters of min_rtt.
  uint8_t multiplier() const { return multiplier_; }

 private:
  uint64_t dsacked_segments_ = 0;  // reported by D-SACKs over the connection's life
  uint8_t multiplier_ = 1;
  uint8_t persist_ = 0;  // recoveries left before the multiplier falls back to 1
  std::optional<uint32_t> round_end_;
  std::optional<header::SackBlock> last_probe_;
};

}  // namespace tapstack::tcp
