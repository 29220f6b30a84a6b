// Bookkeeping of out-of-order data on the receive side (the idea of smoltcp's Assembler): the
// caller writes each out-of-order segment straight into the receive ring buffer at its offset
// beyond the in-order end, and the Assembler only remembers which byte ranges beyond that end
// are held, so that in-order arrival can jump over them and ACKs can name them in SACK blocks
// (RFC 2018) and report duplicates (D-SACK, RFC 2883).
//
// Offsets count from the in-order end (RCV.NXT) and stay below the receive window (< 2^31), so
// that they never wrap; only sack_blocks turns them into sequence numbers.
//
// Memory is fixed: at most kMaxRanges disjoint ranges. A segment that would need one more is
// refused and nothing is recorded, so a peer sending 1-byte segments with gaps across the
// window cannot grow anything (the caller drops it; the peer sends it again later).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/header/tcp_options.h"

namespace tapstack::tcp {

using header::SackBlock;

class Assembler {
 public:
  // Linux's out-of-order queue has no fixed count but prunes by memory; 32 holes is far more
  // than any loss pattern SACK's 3 or 4 blocks can describe to the sender at once.
  static constexpr size_t kMaxRanges = 32;

  enum class Added {
    kStored,     // at least one byte was new; the range is recorded (merged with neighbours)
    kDuplicate,  // every byte was already held: nothing changed (the caller reports a D-SACK)
    kRefused,    // a new disjoint range with kMaxRanges already held: nothing recorded
  };

  // Records that [offset, offset + length) beyond the in-order end is now held. A range that
  // touches or overlaps held ones merges with them. The range containing it becomes the most
  // recent one for sack_blocks (also for a duplicate, which RFC 2883 §4 wants reported as the
  // block after the D-SACK). A zero length records nothing and answers kStored.
  Added add(uint32_t offset, uint32_t length);

  // The caller appended n in-order bytes at offset 0 (the old RCV.NXT). Shifts every range by
  // n, dropping what the new bytes cover, and returns how many held bytes are now contiguous
  // from the new in-order end (forgetting that range): RCV.NXT advances by n plus the result.
  uint32_t advance(uint32_t n);

  // A duplicate segment [seq_start, seq_end) (possibly below RCV.NXT) for the next ACK's first
  // SACK block. A later one replaces it: only the most recent duplicate is reported, as Linux.
  void note_duplicate(uint32_t seq_start, uint32_t seq_end);

  // Fills out with the SACK blocks of the next ACK (RFC 2018 §4) and returns how many: a noted
  // duplicate first (then forgotten: it is reported once), then the held ranges, the most
  // recently changed first, as many as fit (out.size() is 3 with timestamps, 4 without; see
  // header::max_sack_blocks). rcv_nxt is the in-order end the offsets count from.
  size_t sack_blocks(uint32_t rcv_nxt, std::span<SackBlock> out);

  uint32_t held_bytes() const;
  size_t range_count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Forgets all ranges and any noted duplicate (the connection's receive queue was discarded).
  void clear();

 private:
  struct Range {
    uint32_t start = 0;    // offset of the first held byte
    uint32_t end = 0;      // offset after the last held byte
    uint64_t changed = 0;  // value of clock_ when a segment last landed in this range
  };

  void erase(size_t first, size_t last);  // removes ranges_[first, last)

  std::array<Range, kMaxRanges> ranges_{};  // disjoint, not touching, sorted by start
  size_t count_ = 0;
  uint64_t clock_ = 0;
  bool has_duplicate_ = false;
  SackBlock duplicate_{};
};

}  // namespace tapstack::tcp
