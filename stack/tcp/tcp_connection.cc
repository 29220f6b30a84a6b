// Connections: active and simultaneous open (RFC 9293 3.10.7.3, 3.10.7.4), the synchronized
// states with RFC 5961's defences, the FIN exchange and TIME-WAIT, and release.
#include <algorithm>

#include "stack/tcp/seqnum.h"
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

using namespace header::tcp_flags;

namespace {
// RFC 7323 §5.5: a ts_recent this old may have wrapped; PAWS forgets it (Linux TCP_PAWS_24DAYS).
constexpr Duration kPawsIdle = seconds(24 * 24 * 3600);

// RFC 9293 3.10.7.4, first check: does the segment fall in [rcv_nxt, rcv_nxt + window)? A zero
// window still takes ACKs and RSTs at RCV.NXT.
bool acceptable(const Segment& seg, uint32_t rcv_nxt, uint32_t window) {
  if (seg.length == 0 || window == 0) {
    return seg.seq == rcv_nxt || (window > 0 && seq_in_range(seg.seq, rcv_nxt, rcv_nxt + window));
  }
  return seq_in_range(seg.seq, rcv_nxt, rcv_nxt + window) ||
         seq_in_range(seg.end() - 1, rcv_nxt, rcv_nxt + window);
}
}  // namespace

void Tcp::set_state(Connection& c, TcpState state) {
  c.state = state;
  emit_about(Event::Kind::kStateChanged, c, state);
}

Duration Tcp::backoff(int retransmits) const {
  return std::min<Duration>(config_.initial_rto * (int64_t{1} << std::clamp(retransmits, 0, 20)),
                            kMaxRto);
}

void Tcp::arm_retransmit(Connection& c) {
  timers_.arm(c, within_user_timeout(c, now_ + backoff(c.retransmits)));
}

void Tcp::sample_handshake_rtt(Connection& c, const Segment& seg, Time sent, bool retransmitted) {
  // The handshake's round trip is the first RTT sample (Linux's tcp_synack_rtt_meas), so that a
  // loss in the first flight waits an RTO near the path's, not the initial one. Karn: the send
  // time says nothing once the SYN went twice, but the echoed timestamp names the copy that
  // arrived (as Linux's tcp_ack_update_rtt falls back to it).
  if (!retransmitted) {
    c.rtt.sample(now_ - sent);
  } else if (auto rtt = echoed_rtt(c, seg); rtt && *rtt <= now_ - sent) {
    c.rtt.sample(*rtt);  // an echo older than the first send is none of ours
  }
  // RFC 6298 §5.7: a handshake that needed a retransmission and gave no sample starts the data
  // at a 3 s RTO, not the more aggressive initial one.
  if (retransmitted && !c.rtt.has_sample()) {
    c.rtt = RttEstimator(std::max(config_.initial_rto, RttEstimator::kFallbackRto));
  }
}

void Tcp::establish(Connection& c) {
  timers_.cancel(c);
  c.retransmits = 0;
  c.last_received = now_;
  c.rcv_wnd_edge = c.rcv_nxt + syn_window();  // what our SYN or SYN-ACK offered
  set_state(c, TcpState::kEstablished);
  arm_keepalive(c);
  emit_about(Event::Kind::kEstablished, c, c.state, now_ - c.handshake_start);
}

void Tcp::release(Connection& c) {
  if (c.state != TcpState::kClosed) set_state(c, TcpState::kClosed);
  forget(c);
}

void Tcp::forget(Connection& c) {
  timers_.cancel(c);
  if (auto it = connections_.find(c.tuple); it != connections_.end() && it->second == &c) {
    connections_.erase(it);
    stats_.connections_closed.add();
    uncount_connection(c);
  }
  if (auto o = orphans_.find(c.id); o != orphans_.end()) {
    EndpointId id = c.id;
    EndpointId listener = c.listener;
    TcpState last = c.state;
    // The figures are taken first: an aborted connection's last event is this one.
    std::optional<ConnectionInfo> figures;
    if (on_event_ && figures_wanted_ && figures_wanted_(id)) figures = describe_connection(c);
    orphans_.erase(o);  // destroys c, and gives back the port it held, if any
    if (on_event_) {
      on_event_(
          Event{Event::Kind::kReleased, id, listener, last, {}, {}, figures ? &*figures : nullptr});
    }
  }
}

bool Tcp::paws_reject(const Connection& c, const Segment& seg) const {
  return c.options.timestamps && seg.options.timestamp && !seg.has(kRst) &&
         seq_lt(seg.options.timestamp->value, c.ts_recent) && now_ - c.ts_recent_stamp < kPawsIdle;
}

void Tcp::connection_receive(Connection& c, const Segment& seg) {
  switch (c.state) {
    case TcpState::kSynSent:
      syn_sent_receive(c, seg);
      break;
    case TcpState::kSynReceived:
      syn_received_receive(c, seg);
      break;
    default:
      synchronized_receive(c, seg);
      break;
  }
}

void Tcp::syn_sent_receive(Connection& c, const Segment& seg) {
  bool ack_acceptable = false;
  if (seg.has(kAck)) {
    if (seq_le(seg.ack, c.iss) || seq_gt(seg.ack, c.snd_nxt)) {
      if (!seg.has(kRst)) send_reset_for(seg);  // <SEQ=SEG.ACK><CTL=RST>
      stats_.drop(DropReason::syn_sent_ignored);
      return;
    }
    ack_acceptable = true;
  }
  if (seg.has(kRst)) {
    if (!ack_acceptable) {  // a RST without an acceptable ACK cannot be ours to believe
      stats_.drop(DropReason::syn_sent_ignored);
      return;
    }
    stats_.resets_received.add();
    stats_.attempt_fails.add();
    c.ending = Ending::kRefused;
    emit_about(Event::Kind::kRefused, c, TcpState::kClosed);
    release(c);
    return;
  }
  if (!seg.has(kSyn)) {
    stats_.drop(DropReason::syn_sent_ignored);
    return;
  }
  c.irs = seg.seq;
  c.rcv_nxt = seg.seq + 1;
  c.options = negotiate(c.tuple.family(),
                        seg.options);  // our SYN offered everything, so this is the answer
  if (seg.options.timestamp) {
    c.ts_recent = seg.options.timestamp->value;
    c.ts_recent_stamp = now_;
  }
  c.snd_wnd = c.max_snd_wnd = seg.window;  // never scaled in a SYN
  c.snd_wl1 = seg.seq;
  c.snd_wl2 = seg.ack;
  if (ack_acceptable) {
    c.snd_una = seg.ack;
    sample_handshake_rtt(c, seg, c.handshake_start, c.retransmits > 0);
    establish(c);
    send_ack(c);
    process_data_and_fin(c, seg);
    return;
  }
  // Simultaneous open: SYN-ACK with our ISS again, wait in SYN-RECEIVED.
  c.retransmits = 0;
  set_state(c, TcpState::kSynReceived);
  send_syn(c, true);
  arm_retransmit(c);
}

void Tcp::syn_received_receive(Connection& c, const Segment& seg) {
  if (seg.has(kRst)) {
    // RFC 5961 §3.2 holds in every state but SYN-SENT, and Linux's tcp_validate_incoming
    // applies it here: only a RST at RCV.NXT resets; elsewhere in the window our SYN-ACK
    // offered, a challenge ACK. (A listener's half-open record is reset by any in-window RST,
    // as Linux's tcp_check_req does: see half_open_receive.)
    if (seg.seq == c.rcv_nxt) {
      // From an active open, a reset here means refused (RFC 9293 3.10.7.4).
      stats_.resets_received.add();
      stats_.attempt_fails.add();
      c.ending = Ending::kRefused;
      emit_about(Event::Kind::kRefused, c, TcpState::kClosed);
      release(c);
    } else if (seq_in_range(seg.seq, c.rcv_nxt, c.rcv_nxt + syn_window())) {
      challenge_ack(c);
    } else {
      stats_.drop(DropReason::out_of_window);
    }
    return;
  }
  if (seg.has(kSyn)) {
    if (seg.has(kAck) && seg.seq == c.irs && seg.ack == c.snd_nxt) {
      // The peer's SYN-ACK crossing ours completes the open (Linux accepts it the same way).
      c.snd_una = seg.ack;
      c.snd_wnd = c.max_snd_wnd = seg.window;  // never scaled in a SYN
      c.snd_wl1 = seg.seq;
      c.snd_wl2 = seg.ack;
      establish(c);
      send_ack(c);
      return;
    }
    if (!seg.has(kAck) && seg.seq == c.irs) {
      send_syn(c, true);  // the peer did not get our SYN-ACK
      return;
    }
    challenge_ack(c);
    return;
  }
  // RST and SYN are dealt with above; anything else must fall in the window our SYN-ACK
  // offered, or it is answered with an ACK and dropped, as in the synchronized states.
  if (!acceptable(seg, c.rcv_nxt, syn_window())) {
    ack_unacceptable(c, seg);
    stats_.drop(DropReason::out_of_window);
    return;
  }
  if (!seg.has(kAck)) return;
  if (!seq_lt(c.snd_una, seg.ack) || seq_gt(seg.ack, c.snd_nxt)) {
    send_reset_for(seg);
    return;
  }
  c.snd_una = seg.ack;
  c.snd_wnd = c.max_snd_wnd = uint32_t{seg.window} << c.options.send_window_scale.value_or(0);
  c.snd_wl1 = seg.seq;
  c.snd_wl2 = seg.ack;
  establish(c);
  process_data_and_fin(c, seg);
}

void Tcp::synchronized_receive(Connection& c, const Segment& seg) {
  if (paws_reject(c, seg)) {
    // An old duplicate (RFC 7323 §5.3): acknowledged, as an unacceptable segment is, and dropped.
    stats_.drop(DropReason::paws_rejected);
    ack_unacceptable(c, seg);
    return;
  }
  if (!acceptable(seg, c.rcv_nxt, receive_window(c))) {
    stats_.drop(DropReason::out_of_window);
    if (!seg.has(kRst)) ack_unacceptable(c, seg);
    return;
  }
  if (seg.has(kRst)) {
    // RFC 5961 §3: only an exact match resets; elsewhere in the window, a challenge ACK.
    if (seg.seq != c.rcv_nxt) {
      challenge_ack(c);
      return;
    }
    stats_.resets_received.add();
    if (c.state == TcpState::kEstablished || c.state == TcpState::kCloseWait) {
      stats_.established_resets.add();
    }
    c.ending = Ending::kReset;
    emit_about(Event::Kind::kReset, c, TcpState::kClosed);
    release(c);
    return;
  }
  if (seg.has(kSyn)) {  // RFC 5961 §4
    challenge_ack(c);
    return;
  }
  c.last_received = now_;
  c.probes = 0;  // the peer is alive: no keepalive or window probe is outstanding
  if (!seg.has(kAck)) return;
  if (seq_gt(seg.ack, c.snd_nxt)) {
    challenge_ack(c);  // acknowledges what we never sent (RFC 5961 §5.2)
    return;
  }
  // Only now that the segment is known to be acceptable (Linux's tcp_replace_ts_recent), or a
  // forged one could push ts_recent ahead and have PAWS drop the real peer.
  if (c.options.timestamps && seg.options.timestamp && seq_le(seg.seq, c.rcv_nxt) &&
      seq_ge(seg.options.timestamp->value, c.ts_recent)) {
    c.ts_recent = seg.options.timestamp->value;  // RFC 7323 §4.3
    c.ts_recent_stamp = now_;
  }
  const bool fin_was_outstanding = fin_sent(c) && !fin_acknowledged(c);
  process_ack(c, seg);
  if (fin_was_outstanding && fin_acknowledged(c)) {
    switch (c.state) {
      case TcpState::kFinWait1:
        set_state(c, TcpState::kFinWait2);
        schedule_idle(c);
        break;
      case TcpState::kClosing:
        enter_time_wait(c);  // destroys c; the peer's FIN came already, nothing else can
        return;
      default:  // LAST-ACK: our FIN is acknowledged, the connection is done
        release(c);
        return;
    }
  }
  process_data_and_fin(c, seg);
}

void Tcp::ack_unacceptable(Connection& c, const Segment& seg) {
  // Bare ACKs and SYNs are rate-limited, or two stacks that disagree on the window (or a
  // spoofer) could keep us ACKing for ever.
  if ((!seg.payload.empty() && !seg.has(kSyn)) || oow_ack_allowed(c.last_oow_ack)) {
    // Data already received is reported as a D-SACK (RFC 2883 §4.1), as Linux's tcp_send_dupack.
    if (!seg.payload.empty() && !seg.has(kSyn) && seq_lt(seg.seq, c.rcv_nxt)) {
      c.reassembly.note_duplicate(seg.seq, seq_lt(seg.end(), c.rcv_nxt) ? seg.end() : c.rcv_nxt);
    }
    send_ack(c);
  } else {
    stats_.oow_acks_limited.add();
  }
}

void Tcp::challenge_ack(Connection& c) {
  // Shares its rate limit with the other ACKs to unacceptable segments, as in Linux.
  if (!oow_ack_allowed(c.last_oow_ack)) {
    stats_.drop(DropReason::challenge_ack_limited);
    return;
  }
  stats_.challenge_acks_sent.add();
  send_ack(c);
}

void Tcp::connection_timer(Connection& c) {
  switch (c.state) {
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
      // syn_retries or the user timeout, whichever comes first (Linux's tcp_write_timeout
      // since 5.4).
      if (c.retransmits >= std::min(tunable_.syn_retries, 255) || user_timeout_expired(c)) {
        stats_.attempt_fails.add();
        c.ending = Ending::kTimedOut;
        emit_about(Event::Kind::kTimedOut, c, TcpState::kClosed);
        release(c);
        return;
      }
      ++c.retransmits;
      send_syn(c, c.state == TcpState::kSynReceived);  // fresh TSval
      stats_.syn_retransmits.add();
      arm_retransmit(c);
      return;
    default:
      // What the timer guards follows from the connection (see Connection).
      if (c.snd_una != c.snd_nxt) {
        flight_timer(c);
      } else if (has_unsent(c)) {
        persist_timer(c);  // a window too small (or zero) holds data back
      } else if (c.state == TcpState::kEstablished || c.state == TcpState::kCloseWait) {
        keepalive_timer(c);
      } else if (c.state == TcpState::kFinWait2 && orphans_.contains(c.id)) {
        release(c);  // FIN-WAIT-2 timeout
      }
      return;
  }
}

}  // namespace tapstack::tcp
