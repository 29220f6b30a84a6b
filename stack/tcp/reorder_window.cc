#include "stack/tcp/reorder_window.h"

#include <algorithm>

#include "stack/tcp/seqnum.h"

namespace tapstack::tcp {

void ReorderWindowScale::on_ack(uint32_t snd_una) {
  // Checked on every ACK, as RFC 8985 does: left for the next D-SACK, a round end 2 GiB behind
  // would compare as ahead.
  if (round_end_ && seq_ge(snd_una, *round_end_)) round_end_.reset();
}

void ReorderWindowScale::on_probe(uint32_t begin, uint32_t end) {
  last_probe_ = header::SackBlock{begin, end};
}

void ReorderWindowScale::on_dsack(const header::SackBlock& block, uint32_t snd_nxt, uint32_t mss,
                                  uint64_t retransmitted) {
  // As Linux counts them: a block up to one MSS long is one segment.
  const uint32_t length = block.end - block.start;
  dsacked_segments_ += std::max<uint32_t>(1, (length + mss - 1) / mss);
  if (dsacked_segments_ > retransmitted) return;
  if (last_probe_ && seq_ge(block.start, last_probe_->start) &&
      seq_le(block.end, last_probe_->end)) {
    return;
  }
  if (round_end_) return;
  round_end_ = snd_nxt;
  if (multiplier_ < kMaxMultiplier) ++multiplier_;
  persist_ = kPersistRecoveries;
}

void ReorderWindowScale::on_recovery_end() {
  if (persist_ > 0 && --persist_ == 0) multiplier_ = 1;
}

}  // namespace tapstack::tcp
