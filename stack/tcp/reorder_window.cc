#include "stack/tcp/reorder_window.h"

#include "stack/tcp/seqnum.h"

namespace tapstack::tcp {

void ReorderWindowScale::on_ack(uint32_t snd_una) {
  // Checked on every ACK, as RFC 8985 does: left for the next D-SACK, a round end 2 GiB behind
  // would compare as ahead.
  if (round_end_ && seq_ge(snd_una, *round_end_)) round_end_.reset();
}

void ReorderWindowScale::on_dsack(uint32_t snd_nxt) {
  if (round_end_) return;
  round_end_ = snd_nxt;
  if (multiplier_ < kMaxMultiplier) ++multiplier_;
  persist_ = kPersistRecoveries;
}

void ReorderWindowScale::on_recovery_end() {
  if (persist_ > 0 && --persist_ == 0) multiplier_ = 1;
}

}  // namespace tapstack::tcp
