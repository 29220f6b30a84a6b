// Passive open: a listener answers SYNs from a small half-open record or a SYN cookie, and
// completes connections onto its accept queue (RFC 9293 3.10.7.2 and 3.10.7.4, with Linux's
// choices where the RFC leaves room: tcp_v4_conn_request, tcp_check_req).
#include <algorithm>

#include "stack/tcp/seqnum.h"
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

using namespace header::tcp_flags;

namespace {
constexpr uint16_t kDefaultMss = 536;  // RFC 9293 3.7.1, when the SYN has no MSS option
constexpr uint16_t kMinMss = 48;       // Linux TCP_MIN_SND_MSS
}  // namespace

Negotiated Tcp::negotiate(IpFamily family, const header::TcpOptions& peer) const {
  Negotiated n;
  uint16_t peer_mss = peer.mss.value_or(kDefaultMss);
  n.mss = std::clamp(peer_mss, kMinMss, our_mss(family));
  if (peer.window_scale) {
    n.send_window_scale = peer.window_scale;
    n.receive_window_scale = our_window_scale_;
  }
  n.sack_permitted = peer.sack_permitted;
  n.timestamps = peer.timestamp.has_value();
  return n;
}

bool Tcp::accept_queue_full(const Listener& l) const {
  return l.accept_queue.size() >= l.backlog;
}

bool Tcp::syn_table_full(const Listener& l) const {
  // Half-open records are bounded per listener and, so that many listeners cannot add up to
  // gigabytes under a spoofed flood, in total; either bound turns SYNs into cookies.
  return l.syn_received >= l.syn_backlog || half_open_table_full();
}

bool Tcp::cookies_checkable(const Listener& l) const {
  // In cookie mode the program answers SYNs with cookies the engine never sees.
  if (l.cookie_mode_published) return true;
  auto until = cookies_checkable_until(l);
  return !until || now_ < *until;
}

std::optional<Time> Tcp::cookies_checkable_until(const Listener& l) const {
  switch (tunable_.syncookies) {
    case SynCookieMode::kNever:
      return Time{};
    case SynCookieMode::kAlways:
      return std::nullopt;
    case SynCookieMode::kAuto:
      // Only while cookies this listener sent can still be valid: otherwise every stray ACK
      // would be a free guess at a cookie.
      return l.last_cookie_sent ? *l.last_cookie_sent + 2 * kCookieTick : Time{};
  }
  return Time{};
}

void Tcp::listener_receive(Listener& l, const Segment& seg, std::optional<uint32_t> iss) {
  if (seg.has(kRst)) {
    stats_.drop(DropReason::listener_ignored);
    return;
  }
  if (seg.has(kAck)) {
    // A bare ACK may complete a cookie handshake; anything else with ACK is answered with RST
    // <SEQ=SEG.ACK> (SYN-ACK to a listener included).
    if (!seg.has(kSyn) && cookies_checkable(l) && cookie_ack(l, seg, nullptr)) return;
    send_reset_for(seg);
    return;
  }
  if (seg.has(kSyn) && !seg.has(kFin)) {
    answer_syn(l, seg, iss);
    return;
  }
  stats_.drop(DropReason::listener_ignored);
}

void Tcp::answer_syn(Listener& l, const Segment& seg, std::optional<uint32_t> iss) {
  stats_.syns_received.add();
  // The admission policy first, before the SYN costs anything (a half-open record, a cookie, a
  // place in a queue): a refused source must not be able to fill what others need. A TIME-WAIT
  // tuple's reuse (`iss`) was admitted already, before its record was given up.
  if (!iss && !admit_syn(l, seg)) return;
  if (accept_queue_full(l)) {
    // Linux 4.10+: a SYN that finds the accept queue full is dropped, cookies or not; the
    // client retries when the application has caught up.
    stats_.listen_overflows.add();
    stats_.listen_drops.add();
    stats_.accept_queue_full_syn_drops.add();
    stats_.drop(DropReason::accept_queue_full);
    return;
  }
  // A TIME-WAIT tuple's reuse keeps its ISN above the old connection's, so it never gets a
  // cookie (whose ISN is whatever the hash says); its record is bounded by the TIME-WAIT table
  // it came from, as Linux's tcp_conn_request converts timewait buckets "without limitations".
  if (iss) {
    create_half_open(l, seg, *iss);
    return;
  }
  if (tunable_.syncookies == SynCookieMode::kAlways) {
    send_cookie_synack(l, seg);
    return;
  }
  if (syn_table_full(l)) {
    stats_.syn_queue_full.add();
    if (half_open_table_full()) stats_.half_open_table_full.add();
    if (tunable_.syncookies == SynCookieMode::kAuto) {
      send_cookie_synack(l, seg);
      return;
    }
    stats_.listen_drops.add();
    stats_.drop(DropReason::syn_queue_full);
    return;
  }
  create_half_open(l, seg, isn_.isn(seg.tuple, now_));
}

void Tcp::create_half_open(Listener& l, const Segment& seg, uint32_t iss) {
  HalfOpen& h = half_open_.insert(seg.tuple);
  h.kind = kHalfOpenTimer;
  h.tuple = seg.tuple;
  h.listener = &l;
  h.irs = seg.seq;
  h.iss = iss;
  h.options = negotiate(seg.tuple.family(), seg.options);
  h.ts_recent = seg.options.timestamp ? seg.options.timestamp->value : 0;
  h.ts_offset = isn_.timestamp_offset(seg.tuple);
  h.syn_time = now_;
  ++l.syn_received;
  if (l.admission) l.admission->on_half_open_created(seg.tuple.remote);
  half_open_changed(l);
  send_synack(h);
  timers_.arm(h, now_ + config_.initial_rto);
}

void Tcp::send_cookie_synack(Listener& l, const Segment& seg) {
  l.last_cookie_sent = now_;
  publish_listener(l);  // ACKs are checkable for longer now
  HalfOpen reply;       // never stored: the cookie is all the state there is
  reply.tuple = seg.tuple;
  reply.irs = seg.seq;
  reply.iss = cookies_.make_isn(seg.tuple, seg.seq, seg.options.mss.value_or(kDefaultMss), now_);
  reply.options = negotiate(seg.tuple.family(), seg.options);
  reply.ts_recent = seg.options.timestamp ? seg.options.timestamp->value : 0;
  reply.ts_offset = isn_.timestamp_offset(seg.tuple);
  if (reply.options.timestamps) {
    // Window scale and SACK-permitted ride in our TSval's low bits, echoed back in TSecr.
    uint32_t ts = SynCookies::encode_timestamp(ts_value(reply.ts_offset), seg.options.window_scale,
                                               seg.options.sack_permitted);
    reply.ts_offset = ts - ts_value(0);
  }
  send_synack(reply);
  stats_.syncookies_sent.add();
}

bool Tcp::cookie_ack(Listener& l, const Segment& seg, HalfOpen* superseded) {
  uint32_t iss = seg.ack - 1;
  uint32_t irs = seg.seq - 1;
  auto mss = cookies_.check_isn(seg.tuple, irs, iss, now_);
  if (!mss) {
    stats_.syncookies_failed.add();
    return false;
  }
  Negotiated n;
  n.mss = std::min(*mss, our_mss(seg.tuple.family()));
  if (seg.options.timestamp) {
    // Without a timestamp on the ACK nothing of the SYN's options survives (as in Linux).
    CookieOptions decoded;
    SynCookies::decode_timestamp(seg.options.timestamp->echo, decoded);
    n.timestamps = true;
    n.sack_permitted = decoded.sack_permitted;
    if (decoded.window_scale) {
      n.send_window_scale = decoded.window_scale;
      n.receive_window_scale = our_window_scale_;
    }
  }
  // The connection cap holds for cookie handshakes too, whose SYN held no half-open record.
  if (!admit_cookie_ack(l, seg, superseded)) return true;
  if (accept_queue_full(l)) {
    stats_.listen_overflows.add();
    stats_.listen_drops.add();
    stats_.accept_queue_full_ack_drops.add();
    stats_.drop(DropReason::accept_queue_full);
    return true;  // dropped silently: the client retransmits, or its data does
  }
  Connection* c = complete_passive(l, seg, n, iss, irs, isn_.timestamp_offset(seg.tuple), now_,
                                   SynAckTiming::kUnknown);
  if (superseded) erase_half_open(*superseded);  // after, as in half_open_receive
  if (c) {
    c->from_syn_cookie = true;
    stats_.syncookies_validated.add();
    emit(Event::Kind::kConnectionReady, c->id, l.id, c->state);
  }
  return true;
}

void Tcp::half_open_receive(HalfOpen& h, const Segment& seg) {
  Listener& l = *h.listener;
  uint32_t rcv_nxt = h.irs + 1;
  // A retransmitted SYN: the SYN-ACK was lost, send it again (Linux; netstack sends a bare ACK).
  if ((seg.flags & (kSyn | kAck | kRst | kFin)) == kSyn && seg.seq == h.irs) {
    send_synack(h);
    h.synack_resent = true;
    stats_.synack_retransmits.add();
    return;
  }
  // An ACK of something else than our SYN: RST <SEQ=SEG.ACK>, unless it is a cookie we sent
  // before this record existed (a SYN retransmitted after the table had room again).
  if (seg.has(kAck) && seg.ack != h.iss + 1) {
    if (seg.has(kRst)) return;
    if (!seg.has(kSyn) && cookies_checkable(l) && cookie_ack(l, seg, &h)) return;
    send_reset_for(seg);
    return;
  }
  // Linux's tcp_in_window() against the window our SYN-ACK offered.
  uint32_t window = syn_window();
  bool in_window = seg.seq == rcv_nxt ||
                   (seq_gt(seg.end(), rcv_nxt) && seq_lt(seg.seq, rcv_nxt + window)) ||
                   (seg.seq == rcv_nxt + window && seg.length == 0);
  if (!in_window) {
    if (!seg.has(kRst)) send_half_open_ack(h);
    stats_.drop(DropReason::out_of_window);
    return;
  }
  // RFC 1213's tcpAttemptFails counts SYN-RCVD -> LISTEN, as Linux's tcp_check_req does for
  // a RST or a SYN here. Any RST in the window resets the record, as in Linux, where RFC 5961
  // would ask for RCV.NXT exactly: a half-open record is cheap to lose and the client retries.
  if (seg.has(kRst)) {
    stats_.resets_received.add();
    stats_.attempt_fails.add();
    erase_half_open(h);
    return;
  }
  if (seg.has(kSyn)) {
    // A new SYN inside the window of the one we answered: reset the half-open connection.
    send_reset_for(seg);
    stats_.attempt_fails.add();
    erase_half_open(h);
    return;
  }
  if (!seg.has(kAck)) {
    stats_.drop(DropReason::listener_ignored);
    return;
  }
  if (accept_queue_full(l)) {
    stats_.listen_overflows.add();
    stats_.listen_drops.add();
    stats_.accept_queue_full_ack_drops.add();
    stats_.drop(DropReason::accept_queue_full);
    if (tunable_.abort_on_overflow) {
      send_reset_for(seg);
      erase_half_open(h);
    }
    // Otherwise the record stays and its SYN-ACK retransmissions go on; the client's next
    // ACK may find room (Linux's default).
    return;
  }
  // The SYN-ACK went when the SYN came.
  Connection* c = complete_passive(
      l, seg, h.options, h.iss, h.irs, h.ts_offset, h.syn_time,
      h.retransmits > 0 || h.synack_resent ? SynAckTiming::kSentAgain : SynAckTiming::kSentOnce);
  // RFC 7323 says a segment without a timestamp, once they are on, should be dropped; Linux
  // (and so tapstack) accepts such a final ACK and keeps sending timestamps.
  if (c && !seg.options.timestamp) c->ts_recent = h.ts_recent;
  // Only now, so that the tuple is never without a record of the engine's in between: the
  // kernel cookie path would answer the client's next segment as the listener's.
  erase_half_open(h);
  if (c) emit(Event::Kind::kConnectionReady, c->id, l.id, c->state);
}

Connection* Tcp::complete_passive(Listener& l, const Segment& seg, const Negotiated& options,
                                  uint32_t iss, uint32_t irs, uint32_t ts_offset,
                                  Time handshake_start, SynAckTiming synack_timing) {
  if (endpoint_count() >= config_.max_endpoints) {
    stats_.listen_drops.add();
    stats_.drop(DropReason::endpoint_table_full);
    return nullptr;
  }
  EndpointId id = allocate_id();
  Endpoint& e = endpoints_[id];
  e.id = id;
  e.in_accept_queue = true;
  e.connection = std::make_unique<Connection>(config_.send_buffer, config_.receive_buffer,
                                              config_.initial_rto);
  Connection& c = *e.connection;
  if (const Endpoint* listener = find_endpoint(l.id)) {
    e.keepalive = listener->keepalive;
    c.user_options = listener->options;
  }
  c.id = id;
  c.listener = l.id;
  c.tuple = seg.tuple;
  c.iss = iss;
  c.snd_una = c.snd_nxt = c.rtx_next = c.write_seq = iss + 1;
  c.irs = irs;
  c.rcv_nxt = irs + 1;
  c.rcv_wnd_edge = c.rcv_nxt + syn_window();  // what the SYN-ACK offered
  c.options = options;
  c.snd_wnd = c.max_snd_wnd = uint32_t{seg.window} << options.send_window_scale.value_or(0);
  c.snd_wl1 = seg.seq;
  c.snd_wl2 = seg.ack;
  c.ts_offset = ts_offset;
  if (seg.options.timestamp) c.ts_recent = seg.options.timestamp->value;
  c.ts_recent_stamp = now_;
  c.handshake_start = handshake_start;
  if (synack_timing != SynAckTiming::kUnknown) {
    sample_handshake_rtt(c, seg, handshake_start, synack_timing == SynAckTiming::kSentAgain);
  }
  c.state = TcpState::kEstablished;
  c.last_received = now_;
  if (e.keepalive) arm_keepalive(c);  // most listeners have none: no lookup per passive open
  connections_.insert(c.tuple) = &c;
  if (l.admission) count_connection(l, c);
  l.accept_queue.push_back(id);
  publish_listener(l);
  stats_.passive_opens.add();
  emit_about(Event::Kind::kEstablished, c, TcpState::kEstablished, now_ - handshake_start);
  process_data_and_fin(c, seg);  // data (and even FIN) may ride on the final ACK
  return &c;
}

void Tcp::erase_half_open(HalfOpen& h) {
  Listener& l = *h.listener;
  --l.syn_received;
  if (l.admission) l.admission->on_half_open_erased(h.tuple.remote);
  FourTuple tuple = h.tuple;  // the key dies with the record
  half_open_.erase(tuple);
  half_open_changed(l);
}

void Tcp::half_open_timer(HalfOpen& h) {
  // Linux's schedule: SYN-ACK at 0 s, again at 1, 3, 7, 15, 31 s, given up at 63 s.
  if (h.retransmits >= std::min(tunable_.synack_retries, 255)) {  // an 8-bit count
    stats_.handshake_timeouts.add();
    erase_half_open(h);
    return;
  }
  ++h.retransmits;
  send_synack(h);  // with a fresh TSval
  stats_.synack_retransmits.add();
  timers_.arm(h, now_ + backoff(h.retransmits));
}

}  // namespace tapstack::tcp
