// RFC 6675's scoreboard for one connection's send side: which bytes in [SND.UNA, HighData) the
// peer reported with SACK blocks (RFC 2018), and from that which holes are lost (IsLost),
// what to send next in recovery (NextSeg) and how much is still in the network (SetPipe).
//
// "Lost" has two sources, as RFC 8985 §3.5 allows, and this is the one place that combines
// them: RFC 6675's DupThresh rule (enough SACKed above), and the ranges RACK marked lost
// (mark_lost) that were not sent again since. Only RACK's marks can find a retransmission lost
// again, or a tail with fewer than DupThresh segments SACKed above it.
//
// The peer controls the blocks, so they are checked before use: only blocks inside
// [SND.UNA, HighData) are recorded, and the scoreboard holds at most kMaxRanges ranges (when an
// ACK would make more, the highest are forgotten: SACK information is advisory, and losing
// some only means retransmitting bytes the peer already has).
//
// Sequence numbers wrap (seqnum.h); everything is relative to SND.UNA, so the scoreboard
// assumes less than 2^31 bytes outstanding, which TCP's windows guarantee.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "stack/header/tcp_options.h"

namespace tapstack::tcp {

using header::SackBlock;  // [start, end) in sequence space, as a SACK block carries it

struct SackUpdate {
  // A D-SACK (RFC 2883): the first block, if it lies below the cumulative ACK or inside the
  // second block, reports a duplicate the peer received; it is not SACK information.
  std::optional<SackBlock> dsack;
  uint32_t newly_sacked = 0;  // bytes this ACK SACKed for the first time
  uint32_t ignored = 0;       // blocks that were inverted, empty or outside [SND.UNA, HighData)
};

// What NextSeg() chose (RFC 6675 §4), a range of at most one MSS.
struct NextSegment {
  enum class Kind : uint8_t {
    kNone,      // nothing may be sent now
    kLost,      // rule 1: retransmit a hole IsLost() says is lost (RACK's marks first)
    kNewData,   // rule 2: send new data from HighData
    kUnsacked,  // rule 3: retransmit a hole not (yet) deemed lost
  };
  Kind kind = Kind::kNone;
  uint32_t begin = 0;
  uint32_t end = 0;
};

class SackScoreboard {
 public:
  static constexpr size_t kMaxRanges = 64;
  static constexpr uint32_t kDupThresh = 3;

  SackScoreboard(uint32_t mss, uint32_t snd_una);

  // The cumulative ACK moved to `snd_una`: forgets what it covers.
  void on_ack(uint32_t snd_una);
  // The SACK blocks of one ACK whose cumulative ACK is `ack` (after on_ack for it; an old ACK's
  // is below SND.UNA). `high_data`: one past the highest sequence number sent (SND.MAX).
  SackUpdate on_sack(std::span<const SackBlock> blocks, uint32_t ack, uint32_t high_data);
  // Loss recovery begins (RFC 6675 §5 (4)) or a timeout restarts retransmission: nothing has
  // been retransmitted yet (HighRxt = SND.UNA).
  void begin_retransmission();
  // The caller retransmitted [begin, end): RACK's mark on it is gone (it is in the network
  // again), and HighRxt moves up to `end` (it never moves down; the DupThresh rule's holes are
  // retransmitted in order, and RACK's marks are found wherever they are).
  void on_retransmit(uint32_t begin, uint32_t end);
  // RACK (RFC 8985) found [begin, end) lost. At most kMaxRanges marks are held, the highest
  // forgotten first, as SACK ranges are: a forgotten mark leaves that loss to the RTO.
  void mark_lost(uint32_t begin, uint32_t end);
  // Forgets all SACK information and marks (e.g. when the peer reneges, RFC 2018 §8).
  void clear();

  // RFC 6675 §4 IsLost(): at least DupThresh discontiguous SACKed ranges, or more than
  // (DupThresh - 1) * MSS SACKed bytes, above `seq`; or marked lost by RACK. A SACKed byte is
  // never lost.
  bool is_lost(uint32_t seq) const;
  // NextSeg rule 1's choice: the lowest lost hole not retransmitted since (at most one MSS).
  std::optional<SackBlock> first_lost() const;
  bool is_sacked(uint32_t seq) const;
  // RFC 6675 §4 NextSeg() rules 1-3. `sendable_new`: bytes of unsent data the peer's window
  // allows beyond `high_data` (0 if none). Rule 4's rescue retransmission is not done.
  NextSegment next_seg(uint32_t high_data, uint32_t sendable_new) const;
  // RFC 6675 §4 SetPipe(), in bytes: unSACKed bytes in [SND.UNA, high_data) count once if not
  // lost and once more if retransmitted (below HighRxt and not marked lost since).
  uint32_t pipe(uint32_t high_data) const;

  uint32_t sacked_bytes() const { return sacked_bytes_; }
  // One past the highest SACKed byte (HighACK + 1 in RFC 6675's words); SND.UNA if none.
  uint32_t high_sacked() const;
  uint32_t high_rxt() const { return high_rxt_; }
  uint32_t snd_una() const { return snd_una_; }
  std::span<const SackBlock> ranges() const { return ranges_; }

 private:
  uint32_t offset(uint32_t seq) const { return seq - snd_una_; }
  // Everything unSACKed below this is lost: the left edge of the highest range that has
  // enough SACKed above (and including) it; SND.UNA when nothing is lost.
  uint32_t lost_below() const;
  // SACKed bytes within [begin, end).
  uint32_t sacked_in(uint32_t begin, uint32_t end) const;
  // Bytes marked lost by RACK and not SACKed within [begin, end).
  uint32_t marked_in(uint32_t begin, uint32_t end) const;
  // The smallest unSACKed sequence number in [from, limit), and the end of its hole (capped at
  // one MSS and at `limit`).
  std::optional<SackBlock> first_hole(uint32_t from, uint32_t limit) const;
  // Adds `block` to `ranges` (ranges_ or marked_), merging what it overlaps or touches.
  void insert(std::vector<SackBlock>& ranges, SackBlock block);

  const uint32_t mss_;
  uint32_t snd_una_;
  uint32_t high_rxt_;
  uint32_t sacked_bytes_ = 0;
  std::vector<SackBlock> ranges_;  // disjoint, not adjacent, ascending from SND.UNA
  std::vector<SackBlock> marked_;  // RACK's lost ranges: disjoint, ascending, above SND.UNA
};

}  // namespace tapstack::tcp
