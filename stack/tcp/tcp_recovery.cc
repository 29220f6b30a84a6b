// Loss recovery without a timeout: fast retransmit after DupThresh duplicate ACKs (RFC 5681
// §3.2) with NewReno's partial ACKs (RFC 6582), or, once the peer reports SACK blocks,
// RFC 6675's conservative SACK-based recovery: the scoreboard says what is lost, and segments
// go while the estimate of what is in the network (pipe) stays a segment below cwnd. RACK
// (tcp_rack.cc) finds losses by time too, and starts the same recovery.
#include "stack/tcp/seqnum.h"
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

bool Tcp::record_sack(Connection& c, const Segment& seg) {
  const std::span<const SackBlock> blocks = seg.options.sack();
  if (!c.options.sack_permitted || blocks.empty()) return false;
  const SackUpdate update = scoreboard(c).on_sack(blocks, seg.ack, c.snd_nxt);
  if (update.dsack) {
    stats_.dsacks_received.add();
    c.reorder_scale.on_dsack(*update.dsack, {.snd_nxt = c.snd_nxt,
                                             .mss = static_cast<uint32_t>(send_mss(c)),
                                             .max_window = c.max_snd_wnd,
                                             .retransmitted = c.segments_retransmitted});
  }
  return update.newly_sacked > 0;
}

SackScoreboard& Tcp::scoreboard(Connection& c) {
  if (!c.scoreboard) c.scoreboard.emplace(static_cast<uint32_t>(send_mss(c)), c.snd_una);
  return *c.scoreboard;
}

void Tcp::duplicate_ack(Connection& c) {
  if (c.duplicate_acks < 255) ++c.duplicate_acks;
  // In RFC 6582's recovery a duplicate ACK means a segment left the network: the inflated
  // window may send one more. (With SACK, pipe accounts for it instead.)
  if (c.recover && !c.scoreboard) congestion(c).on_dup_ack();
}

void Tcp::enter_recovery(Connection& c) {
  const bool sack = c.scoreboard.has_value();
  c.recover = c.snd_nxt;  // RFC 6582's recover, RFC 6675's RecoveryPoint
  congestion(c).enter_recovery(now_, c.snd_nxt - c.snd_una,
                               sack ? RecoveryStyle::kSack : RecoveryStyle::kDupAcks);
  stats_.fast_retransmits.add();
  if (sack) stats_.sack_recoveries.add();
  c.timed.reset();  // Karn: no RTT from the repaired flight
  // RFC 5681 §3.2 (2), RFC 6675 §5 (4.3): the first lost segment goes at once, whatever cwnd
  // says: SND.UNA's, unless RACK found a later one lost and SND.UNA's not (yet).
  std::optional<SackBlock> first{{c.snd_una, c.snd_nxt}};
  if (sack) {
    c.scoreboard->begin_retransmission();
    if (auto lost = c.scoreboard->first_lost()) first = lost;
  }
  retransmit(c, first->start, first->end);
}

void Tcp::sack_transmit(Connection& c) {
  SackScoreboard& board = *c.scoreboard;
  const uint32_t mss = static_cast<uint32_t>(send_mss(c));
  // RFC 6675 §5 (C): while cwnd - pipe >= 1 SMSS, send what NextSeg() picks. Each pass sends a
  // segment or stops, and pipe grows with each, so the loop ends within cwnd / MSS passes.
  while (board.pipe(c.snd_nxt) + mss <= c.congestion->cwnd()) {
    const uint32_t window_end = c.snd_una + c.snd_wnd;
    const uint32_t unsent = seq_lt(c.snd_nxt, c.write_seq) ? c.write_seq - c.snd_nxt : 0;
    const uint32_t room = seq_lt(c.snd_nxt, window_end) ? window_end - c.snd_nxt : 0;
    const NextSegment next = board.next_seg(c.snd_nxt, std::min(unsent, room));
    switch (next.kind) {
      case NextSegment::Kind::kNone:
        return;
      case NextSegment::Kind::kNewData:
        if (!send_new(c, window_end, false)) return;
        break;
      case NextSegment::Kind::kLost:
      case NextSegment::Kind::kUnsacked:
        retransmit(c, next.begin, next.end);
        break;
    }
  }
}

}  // namespace tapstack::tcp
