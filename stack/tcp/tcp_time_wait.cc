// TIME-WAIT (RFC 9293 3.10.7.4, RFC 1337, RFC 7323 §5, and Linux's
// tcp_timewait_state_process where the RFCs leave room). A connection that enters TIME-WAIT is
// handed over to a small TimeWait record and its endpoint is released; the records have a limit
// of their own and never count against endpoints.
#include "stack/tcp/seqnum.h"
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

using namespace header::tcp_flags;

// Consumes `c`: it is destroyed before this returns.
void Tcp::enter_time_wait(Connection& c) {
  // After shutdown() the user still holds the connection, to read what is left: it ends
  // CLOSED, as Linux's tcp_done leaves a socket whose TIME-WAIT went to a timewait sock.
  const bool held = !orphans_.contains(c.id);
  set_state(c, TcpState::kTimeWait);
  stats_.time_wait_entered.add();
  if (time_wait_.size() >= config_.max_time_wait) {
    // Like Linux's "time wait bucket table overflow": the connection is closed at once. Its
    // tuple loses TIME-WAIT's protection, but new connections are never refused for it.
    stats_.time_wait_overflows.add();
    forget(c);
    if (held) set_state(c, TcpState::kClosed);
    return;
  }
  TimeWait& tw = time_wait_.insert(c.tuple);
  tw.kind = kTimeWaitTimer;
  tw.tuple = c.tuple;
  tw.snd_nxt = c.snd_nxt;
  tw.rcv_nxt = c.rcv_nxt;
  tw.timestamps = c.options.timestamps;
  tw.ts_recent = c.ts_recent;
  tw.ts_offset = c.ts_offset;
  tw.window = advertise_window(c);
  tw.port = std::move(c.port);
  tw.ends = now_ + 2 * config_.time_wait;
  timers_.arm(tw, now_ + config_.time_wait);
  forget(c);  // an orphan's endpoint id is released here
  if (held) set_state(c, TcpState::kClosed);
}

void Tcp::time_wait_receive(TimeWait& tw, const Segment& seg) {
  const auto& ts = seg.options.timestamp;
  // PAWS (RFC 7323 §5.3): a TSval older than the last one seen is an old duplicate.
  bool paws_reject = tw.timestamps && ts && seq_lt(ts->value, tw.ts_recent);
  if (seg.has(kRst)) {
    // RFC 1337: a RST must not end TIME-WAIT early ("TIME-WAIT assassination"): the wait exists
    // so that old duplicates die before the tuple is reused. Linux needs tcp_rfc1337=1 for
    // this; gVisor does it always, and so do we.
    stats_.drop(DropReason::time_wait_rst);
    return;
  }
  if (!paws_reject && (seg.flags & (kSyn | kAck | kFin)) == kSyn &&
      (seq_gt(seg.seq, tw.rcv_nxt) || (tw.timestamps && ts && seq_gt(ts->value, tw.ts_recent)))) {
    // A new SYN that cannot be an old duplicate: its sequence number, or its timestamp, is
    // beyond the old incarnation's (RFC 6191, Linux's TCP_TW_SYN). A listener may take the tuple
    // at once, with an ISN above everything the old connection sent.
    if (Listener* l = find_listener(seg.tuple.local, seg.tuple.local_port)) {
      // Admission decides before the record is given up: a refused SYN leaves TIME-WAIT as is.
      if (!admit_syn(*l, seg)) return;
      uint32_t iss = tw.snd_nxt + 65535 + 2;
      FourTuple tuple = tw.tuple;  // the key dies with the record
      stats_.time_wait_reused.add();
      listener_receive(*l, seg, iss);
      // Erased after the half-open record took the tuple over, so that the kernel cookie path
      // never finds it without one (it would answer the SYN's retransmission with a cookie).
      time_wait_.erase(tuple);
      return;
    }
  }
  if (paws_reject) {
    stats_.drop(DropReason::paws_rejected);
  } else if (seg.seq == tw.rcv_nxt && seg.length == 0) {
    // A bare ACK in the window: nothing to answer (an ACK of an ACK would only echo).
    if (ts && tw.timestamps) tw.ts_recent = ts->value;
    return;
  } else if (seg.has(kFin) && seg.end() == tw.rcv_nxt) {
    // The peer's FIN again: our ACK of it was lost. Acknowledge it and restart the wait
    // (RFC 9293), but never past `ends`, so that a peer resending FINs cannot hold the record
    // for ever.
    timers_.arm(tw, std::min(now_ + config_.time_wait, tw.ends));
  } else {
    stats_.drop(DropReason::out_of_window);
  }
  send_time_wait_ack(tw);
}

void Tcp::send_time_wait_ack(TimeWait& tw) {
  if (!oow_ack_allowed(tw.last_oow_ack)) {
    stats_.oow_acks_limited.add();
    return;
  }
  send_bare(tw.tuple, tw.snd_nxt, tw.rcv_nxt, kAck, tw.window, tw.timestamps, tw.ts_offset,
            tw.ts_recent);
}

}  // namespace tapstack::tcp
