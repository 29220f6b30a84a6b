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

void ReorderWindowScale::on_dsack(const header::SackBlock& block, const Flight& flight) {
  const uint32_t length = block.end - block.start;
  if (length > flight.max_window) return;
  // As Linux counts them: a block up to one MSS long is one segment.
  dsacked_segments_ += std::max<uint32_t>(1, (length + flight.mss - 1) / flight.mss);
  if (dsacked_segments_ > flight.retransmitted) return;
  if (last_probe_ && seq_ge(block.start, last_probe_->start) &&
      seq_le(block.end, last_probe_->end)) {
    return;
  }
  if (round_end_) return;
  round_end_ = flight.snd_nxt;
  if (multiplier_ < kMaxMultiplier) ++multiplier_;
  persist_ = kPersistRecoveries;
}

void ReorderWindowScale::on_recovery_end() {
  if (persist_ > 0 && --persist_ == 0) multiplier_ = 1;
}

}  // namespace tapstack::tcp
