// The send side of a synchronized connection: write() and shutdown(), segmentation by the
// effective MSS, Nagle (RFC 896) and sender silly-window avoidance (RFC 9293 3.8.6.2.1), the
// FIN after the data, ACK processing (RFC 9293 3.10.7.4, SND.WL1/WL2), the retransmission
// timer (RFC 6298, Karn), fast retransmit (RFC 5681, RFC 6582) and the persist timer.
#include <algorithm>

#include "stack/tcp/seqnum.h"
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

using namespace header::tcp_flags;

namespace {

// States in which our side may still send data or its FIN.
bool sends(TcpState s) {
  return s == TcpState::kEstablished || s == TcpState::kCloseWait || s == TcpState::kFinWait1 ||
         s == TcpState::kClosing || s == TcpState::kLastAck;
}
}  // namespace

Result<Connection*> Tcp::data_connection(EndpointId id) {
  Endpoint* e = find_endpoint(id);
  if (!e) return error(ErrorCode::kNotFound, "no endpoint " + std::to_string(id));
  if (!e->connection) {
    return error(ErrorCode::kFailedPrecondition,
                 "endpoint " + std::to_string(id) + " is not a connection");
  }
  Connection& c = *e->connection;
  switch (c.ending) {
    case Ending::kNone:
      return &c;
    case Ending::kRefused:
      return error(ErrorCode::kUnavailable, "connection refused");
    case Ending::kUnreachable:
      return error(ErrorCode::kUnavailable, "destination unreachable");
    case Ending::kReset:
      return error(ErrorCode::kUnavailable, "connection reset by peer");
    case Ending::kTimedOut:
      break;
  }
  return error(ErrorCode::kDeadlineExceeded, "connection timed out");
}

Result<Connection*> Tcp::writable_connection(EndpointId id) {
  auto found = data_connection(id);
  if (!found.is_ok()) return found.status();
  Connection& c = **found;
  if (c.state == TcpState::kSynSent || c.state == TcpState::kSynReceived) {
    return error(ErrorCode::kWouldBlock, "not connected yet");
  }
  if (c.write_shut || !sends(c.state)) {
    return error(ErrorCode::kFailedPrecondition,
                 "endpoint " + std::to_string(id) + " can send no more (shut down or closed)");
  }
  return &c;
}

Result<size_t> Tcp::send_room(EndpointId id) {
  auto found = writable_connection(id);
  if (!found.is_ok()) return found.status();
  Connection& c = **found;
  if (c.send_queue.room() == 0) {
    c.writer_waits = true;
    return error(ErrorCode::kWouldBlock, "send buffer full");
  }
  return c.send_queue.room();
}

Result<size_t> Tcp::write(EndpointId id, std::span<const uint8_t> data) {
  auto found = writable_connection(id);
  if (!found.is_ok()) return found.status();
  Connection& c = **found;
  size_t taken = c.send_queue.push(data);
  c.write_seq += static_cast<uint32_t>(taken);
  if (taken < data.size()) c.writer_waits = true;
  if (taken == 0 && !data.empty()) return error(ErrorCode::kWouldBlock, "send buffer full");
  transmit(c);
  return taken;
}

Status Tcp::shutdown(EndpointId id) {
  auto found = data_connection(id);
  if (!found.is_ok()) return found.status();
  Connection& c = **found;
  if (c.write_shut) return Status::ok();  // as shutdown(SHUT_WR) twice in Linux
  if (c.state != TcpState::kEstablished && c.state != TcpState::kCloseWait) {
    return error(ErrorCode::kFailedPrecondition,
                 "endpoint " + std::to_string(id) + " is not connected");
  }
  start_close(c);
  return Status::ok();
}

void Tcp::start_close(Connection& c) {
  c.write_shut = true;
  set_state(c, c.state == TcpState::kCloseWait ? TcpState::kLastAck : TcpState::kFinWait1);
  transmit(c);
}

size_t Tcp::send_mss(const Connection& c) const {
  // RFC 9293 3.7.1: the MSS option counts no TCP options; ours ride in every segment.
  return c.options.mss - (c.options.timestamps ? header::kTimestampOptionLength : 0);
}

uint32_t Tcp::send_window(const Connection& c) const {
  return c.congestion ? std::min(c.snd_wnd, c.congestion->cwnd()) : c.snd_wnd;
}

CongestionControl& Tcp::congestion(Connection& c) {
  if (!c.congestion) {
    c.congestion =
        make_congestion_control(config_.congestion_control, static_cast<uint32_t>(send_mss(c)));
  }
  return *c.congestion;
}

void Tcp::transmit(Connection& c, bool force) {
  if (!config_.segmentation_offload) {
    send_due(c, force);
    return;
  }
  gathering_ = true;
  send_due(c, force);
  gathering_ = false;
  flush_burst();
}

void Tcp::send_due(Connection& c, bool force) {
  if (!sends(c.state)) return;
  if (c.recover && c.scoreboard) {
    sack_transmit(c);  // RFC 6675: the scoreboard picks every segment until recovery ends
    return;
  }
  if (!has_unsent(c) && c.rtx_next == c.snd_nxt) return;  // the common case of a bare ACK
  congestion(c);  // the window applies from the first byte sent
  const bool was_idle = c.snd_una == c.snd_nxt;
  const uint32_t window_end = c.snd_una + send_window(c);
  // Retransmissions first: after an RTO everything from SND.UNA goes again (go-back-N), as far
  // as the window allows; the first segment always goes, or a closed window would stall it.
  while (seq_lt(c.rtx_next, c.snd_nxt)) {
    if (c.rtx_next != c.snd_una && !seq_lt(c.rtx_next, window_end)) return;
    c.rtx_next = retransmit(c, c.rtx_next, c.snd_nxt);
  }
  bool sent = false;
  while (send_new(c, window_end, force)) {
    sent = true;
    force = false;  // one segment past the rules is what the override allows
  }
  if (sent && was_idle) start_rto(c);  // RFC 6298 (5.1): the timer starts with the first segment
  // RFC 8985 §7.2: new data (re)starts the probe timeout; a reordering wait stays as it is.
  if (sent && c.rack && c.rack->timer != FlightTimer::kReorder) arm_loss_timer(c, std::nullopt);
  if (!sent && c.snd_una == c.snd_nxt && has_unsent(c) && c.retransmits == 0) {
    schedule_idle(c);  // the window holds data back: the persist timer starts
  }
}

bool Tcp::send_new(Connection& c, uint32_t window_end, bool force) {
  const uint32_t unsent = seq_lt(c.snd_nxt, c.write_seq) ? c.write_seq - c.snd_nxt : 0;
  if (unsent == 0) {
    if (!c.write_shut || c.snd_nxt != c.write_seq) return false;
    send_data(c, c.snd_nxt, 0, true);  // the FIN, alone
    record_sent(c, c.snd_nxt, c.write_seq + 1, false);
    c.snd_nxt = c.rtx_next = c.write_seq + 1;
    return true;
  }
  const size_t mss = send_mss(c);
  const uint32_t room = seq_lt(c.snd_nxt, window_end) ? window_end - c.snd_nxt : 0;
  const size_t length = std::min<size_t>({unsent, mss, room});
  if (length == 0) return false;
  if (length < mss) {
    // Nagle: a small segment waits while data is in flight. Sender SWS avoidance: a piece
    // the window cuts short must be worth half the largest window the peer offered.
    // A FIN waiting behind the tail pushes it (as Linux's tcp_send_fin); the persist timer
    // overrides both rules (RFC 9293 3.8.6.2.1's override timeout).
    const bool hold = length == unsent
                          ? !c.user_options.no_delay && !c.write_shut && c.snd_nxt != c.snd_una
                          : length < c.max_snd_wnd / 2;
    if (hold && !force) return false;
  }
  const bool fin = c.write_shut && length == unsent;
  send_data(c, c.snd_nxt, length, fin);
  if (!c.options.timestamps && !c.timed) c.timed = std::pair{c.snd_nxt, now_};
  const uint32_t end = c.snd_nxt + static_cast<uint32_t>(length) + (fin ? 1 : 0);
  record_sent(c, c.snd_nxt, end, false);
  c.snd_nxt = end;
  c.rtx_next = c.snd_nxt;
  return true;
}

uint32_t Tcp::retransmit(Connection& c, uint32_t seq, uint32_t end) {
  const uint32_t data_end = seq_lt(end, c.write_seq) ? end : c.write_seq;
  const size_t length = seq_lt(seq, data_end) ? std::min<size_t>(send_mss(c), data_end - seq) : 0;
  // The FIN rides on the last piece of data once it was sent.
  const bool fin = fin_sent(c) && seq + length == c.write_seq && seq_gt(end, c.write_seq);
  send_data(c, seq, length, fin);
  stats_.data_segments_retransmitted.add();
  if (fin && length == 0) stats_.fin_retransmits.add();
  ++c.segments_retransmitted;
  const uint32_t sent_end = seq + static_cast<uint32_t>(length) + (fin ? 1 : 0);
  // In SACK recovery the scoreboard learns what NextSeg had it send (HighRxt, RACK's marks);
  // outside it (a timeout's go-back-N, a probe) HighRxt means nothing.
  if (c.recover && c.scoreboard) c.scoreboard->on_retransmit(seq, sent_end);
  record_sent(c, seq, sent_end, true);
  return sent_end;
}

void Tcp::process_ack(Connection& c, const Segment& seg) {
  // RFC 9293 3.10.7.4: the window comes from the newest segment only (SND.WL1, SND.WL2).
  const uint32_t window = uint32_t{seg.window} << c.options.send_window_scale.value_or(0);
  const bool window_update =
      seq_ge(seg.ack, c.snd_una) &&
      (seq_lt(c.snd_wl1, seg.seq) || (c.snd_wl1 == seg.seq && seq_le(c.snd_wl2, seg.ack)));
  const bool window_changed = window_update && window != c.snd_wnd;
  if (window_update) {
    // With nothing in flight the backoff is the persist timer's: a window that grew ends it,
    // so that the data's RTO starts afresh (Linux's tcp_ack_probe).
    if (c.snd_una == c.snd_nxt && window > c.snd_wnd) c.retransmits = 0;
    c.snd_wnd = window;
    c.snd_wl1 = seg.seq;
    c.snd_wl2 = seg.ack;
    c.max_snd_wnd = std::max(c.max_snd_wnd, window);
  }
  const bool advanced = seq_gt(seg.ack, c.snd_una);
  // RFC 5681 §2's duplicate ACK (the caller excluded SYNs).
  const bool duplicate = !advanced && seg.ack == c.snd_una && c.snd_una != c.snd_nxt &&
                         seg.payload.empty() && !seg.has(kFin) && !window_changed;
  if (advanced) acknowledge(c, seg);
  const bool sacked = record_sack(c, seg);
  // RFC 6675 §2 counts an ACK that SACKs new data as a duplicate too.
  if (duplicate || (sacked && !advanced)) duplicate_ack(c);
  // A RACK mark left from the last recovery (on data sent during it) counts as well.
  if (!c.recover &&
      (c.duplicate_acks >= kDuplicateAckThreshold ||
       (c.scoreboard && (c.scoreboard->is_lost(c.snd_una) || c.scoreboard->first_lost())))) {
    enter_recovery(c);
  }
  const std::optional<Duration> reorder_wait = rack_on_ack(c, seg);
  transmit(c);
  // RFC 8985 §6.3, §7.2: an ACK that delivered data sets the loss timers afresh.
  if (advanced || sacked) arm_loss_timer(c, reorder_wait);
}

std::optional<Duration> Tcp::echoed_rtt(const Connection& c, const Segment& seg) const {
  if (!c.options.timestamps || !seg.options.timestamp || seg.options.timestamp->echo == 0) {
    return std::nullopt;
  }
  // As a signed difference: an echo from the future is no sample (RttEstimator drops it).
  return milliseconds(static_cast<int32_t>(ts_value(c.ts_offset) - seg.options.timestamp->echo));
}

void Tcp::acknowledge(Connection& c, const Segment& seg) {
  const uint32_t acked = seg.ack - c.snd_una;
  const uint32_t in_flight = c.snd_nxt - c.snd_una;
  const size_t data = std::min<size_t>(acked, c.send_queue.size());
  c.send_queue.consume(data);
  c.bytes_acked += data;
  c.snd_una = seg.ack;
  if (seq_lt(c.rtx_next, c.snd_una)) c.rtx_next = c.snd_una;
  if (c.scoreboard) c.scoreboard->on_ack(c.snd_una);
  // RTT (RFC 7323 §4.1 from the echoed timestamp, else the timed segment; Karn: never from a
  // retransmission, which the timed segment is dropped for).
  std::optional<Duration> rtt = echoed_rtt(c, seg);
  if (!rtt && c.timed && seq_gt(seg.ack, c.timed->first)) rtt = now_ - c.timed->second;
  if (rtt) c.rtt.sample(*rtt);
  if (c.timed && seq_gt(seg.ack, c.timed->first)) c.timed.reset();
  c.reorder_scale.on_ack(c.snd_una);
  // An ACK of new data after a timeout ends its recovery (unless fast recovery goes on).
  if (c.retransmits > 0 && !c.recover) c.reorder_scale.on_recovery_end();
  c.retransmits = 0;
  c.duplicate_acks = 0;
  CongestionControl& cc = congestion(c);
  if (!c.recover) {
    cc.on_ack(acked, now_, rtt, in_flight);
  } else if (seq_ge(c.snd_una, *c.recover)) {
    c.recover.reset();  // RFC 6582: the whole window is repaired
    cc.exit_recovery(c.snd_nxt - c.snd_una);
    c.reorder_scale.on_recovery_end();
  } else {
    cc.on_partial_ack(acked);
    // RFC 6582 §3.2 (5): a partial ACK's next hole goes at once (SACK's scoreboard finds
    // the holes itself).
    if (!c.scoreboard) retransmit(c, c.snd_una, c.snd_nxt);
  }
  if (c.writer_waits && c.send_queue.room() >= c.send_queue.limit() / 2) {
    c.writer_waits = false;  // wake the writer with room for a good chunk, as Linux does
    emit(Event::Kind::kWritable, c.id, c.listener, c.state);
  }
  if (c.snd_una == c.snd_nxt) {
    c.rack.reset();  // the flight is over
    schedule_idle(c);
  } else {
    start_rto(c);  // RFC 6298 (5.3): restarted by every ACK of new data
  }
}

Duration Tcp::current_rto(const Connection& c) const {
  return c.rtt.backed_off(c.retransmits);
}

void Tcp::start_rto(Connection& c) {
  // The oldest data in flight waits afresh: the user timeout counts from here, as Linux's from
  // the head's send time (retrans_stamp), whatever a loss probe does in between.
  c.stalled_since = now_;
  arm_rto(c);
}

void Tcp::arm_rto(Connection& c) {
  timers_.arm(c, within_user_timeout(c, now_ + current_rto(c)));
  if (c.rack) c.rack->timer = FlightTimer::kRto;
}

void Tcp::retransmission_timeout(Connection& c) {
  // A user timeout replaces the retry count, longer or shorter (Linux's tcp_write_timeout).
  const bool expired =
      c.user_options.user_timeout > Duration::zero()
          ? user_timeout_expired(c)
          : c.retransmits >= (orphans_.contains(c.id) ? config_.fin_retries : config_.data_retries);
  if (expired) {
    write_timeout(c);
    return;
  }
  congestion(c).on_rto(now_, c.snd_nxt - c.snd_una, c.retransmits > 0);
  if (c.retransmits < UINT8_MAX) ++c.retransmits;  // a long user timeout may retry past 255
  stats_.retransmit_timeouts.add();
  // RFC 6298 (5.4-5.6), RFC 6582 §3.2 step 4: everything in flight is presumed lost.
  c.timed.reset();
  c.duplicate_acks = 0;
  c.recover.reset();
  if (c.rack) c.rack->tlp_end.reset();  // the episode ended in the timeout
  // RFC 2018 §8: the peer may have dropped what it SACKed; go back to SND.UNA for all of it.
  if (c.scoreboard) c.scoreboard->clear();
  c.rtx_next = c.snd_una;
  transmit(c);
  arm_rto(c);
}

bool Tcp::fin_sent(const Connection& c) {
  return c.write_shut && seq_gt(c.snd_nxt, c.write_seq);
}

bool Tcp::fin_acknowledged(const Connection& c) {
  return c.write_shut && seq_gt(c.snd_una, c.write_seq);
}

bool Tcp::has_unsent(const Connection& c) {
  return seq_lt(c.snd_nxt, c.write_seq) || (c.write_shut && c.snd_nxt == c.write_seq);
}

void Tcp::schedule_idle(Connection& c) {
  if (has_unsent(c)) {
    // RFC 9293 3.8.6.1: probe a zero window, backing off like the RTO; a window too small for
    // the rules to use is used when the timer fires (3.8.6.2.1's override).
    timers_.arm(c, now_ + current_rto(c));
  } else if (c.state == TcpState::kEstablished || c.state == TcpState::kCloseWait) {
    arm_keepalive(c);
  } else if (c.state == TcpState::kFinWait2 && orphans_.contains(c.id)) {
    timers_.arm(c, now_ + config_.fin_wait2_timeout);  // Linux's tcp_fin_timeout, orphans only
  } else {
    timers_.cancel(c);
  }
}

void Tcp::write_timeout(Connection& c) {
  stats_.data_timeouts.add();
  if (!orphans_.contains(c.id)) {
    c.ending = Ending::kTimedOut;
    emit_about(Event::Kind::kTimedOut, c, TcpState::kClosed);
  }
  release(c);
}

void Tcp::persist_timer(Connection& c) {
  // The user timeout counts from the first probe (Linux's icsk_probes_tstamp) and, unlike the
  // probe count, goes on while the peer answers with a zero window: only a window that opens
  // (process_ack) stops it.
  if (c.retransmits == 0) c.stalled_since = now_;
  // Probes count until the peer sends anything (Linux's icsk_probes_out): without a user
  // timeout, a peer that answers with its zero window keeps the connection as long as it likes.
  const bool expired = c.user_options.user_timeout > Duration::zero()
                           ? user_timeout_expired(c)
                           : c.probes >= config_.data_retries;
  if (expired) {
    write_timeout(c);
    return;
  }
  if (c.snd_wnd > 0) {
    transmit(c, true);  // a window the rules would not use: one segment as big as it allows
    return;
  }
  if (c.probes < UINT8_MAX) ++c.probes;
  if (c.retransmits < 20) ++c.retransmits;  // the interval backs off as the RTO does
  stats_.zero_window_probes_sent.add();
  // Linux's tcp_xmit_probe_skb: an old sequence number the peer must answer with its window.
  send_keepalive_probe(c);
  timers_.arm(c, within_user_timeout(c, now_ + current_rto(c)));
}

}  // namespace tapstack::tcp
