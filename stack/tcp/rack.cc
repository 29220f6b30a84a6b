#include "stack/tcp/rack.h"

#include <algorithm>

#include "stack/tcp/seqnum.h"

namespace tapstack::tcp {

bool Rack::sent_after(const Sent& a, const Sent& b) {
  if (a.sent != b.sent) return a.sent > b.sent;
  if (a.retransmitted != b.retransmitted) return a.retransmitted;
  return seq_gt(a.end, b.end);
}

void Rack::on_send(uint32_t begin, uint32_t end, Time now, bool retransmission) {
  if (!retransmission) {
    sent_.push_back({begin, end, now, false});
    return;
  }
  // The entries the retransmission overlaps become one, sent now: a piece of an entry it did
  // not cover only waits longer to be judged, and the record never grows by retransmitting.
  auto first = std::partition_point(sent_.begin(), sent_.end(),
                                    [&](const Sent& s) { return seq_le(s.end, begin); });
  auto last =
      std::partition_point(first, sent_.end(), [&](const Sent& s) { return seq_lt(s.begin, end); });
  if (first != last) {
    if (seq_lt(first->begin, begin)) begin = first->begin;
    if (seq_gt(std::prev(last)->end, end)) end = std::prev(last)->end;
  }
  sent_.insert(sent_.erase(first, last), Sent{begin, end, now, true});
}

void Rack::on_ack(uint32_t snd_una, std::span<const header::SackBlock> blocks, uint32_t high_data,
                  Time now, Duration min_rtt) {
  while (!sent_.empty() && seq_le(sent_.front().end, snd_una)) {
    delivered(sent_.front(), now, min_rtt);
    sent_.pop_front();
  }
  if (!sent_.empty() && seq_lt(sent_.front().begin, snd_una)) sent_.front().begin = snd_una;
  for (const header::SackBlock& block : blocks) {
    if (!seq_lt(block.start, block.end) || seq_lt(block.start, snd_una) ||
        seq_gt(block.end, high_data)) {
      continue;  // a D-SACK, or a block the peer made up: nothing of ours in flight
    }
    auto first = std::partition_point(sent_.begin(), sent_.end(),
                                      [&](const Sent& s) { return seq_lt(s.begin, block.start); });
    auto last = first;
    for (; last != sent_.end() && seq_le(last->end, block.end); ++last) {
      delivered(*last, now, min_rtt);
    }
    sent_.erase(first, last);
  }
}

void Rack::delivered(const Sent& s, Time now, Duration min_rtt) {
  // RFC 8985 §6.2 step 3: delivered below what was delivered before, yet sent only once.
  if (fack_ && seq_lt(s.end, *fack_) && !s.retransmitted) reordering_seen_ = true;
  if (!fack_ || seq_gt(s.end, *fack_)) fack_ = s.end;
  if (s.sent == kNever) return;  // reported lost, not yet sent again: no send time to go by
  const Duration rtt = now - s.sent;
  // Step 2: an ACK quicker than any round trip is for an earlier copy than this retransmission.
  if (s.retransmitted && rtt < min_rtt) return;
  if (latest_ && !sent_after(s, *latest_)) return;
  latest_ = s;
  rtt_ = rtt;
}

}  // namespace tapstack::tcp
