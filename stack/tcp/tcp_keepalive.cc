// Keepalive (RFC 1122 4.2.3.6) the way Linux's tcp_keepalive_timer does it: the timer is armed
// for `idle` after the last segment from the peer and, when it fires early because something
// arrived meanwhile, re-armed for the rest, so receiving a segment costs a timestamp, never a
// timer operation. Only ESTABLISHED and CLOSE-WAIT keep alive: every other state has a timer
// of its own, and only those two have an endpoint id that holds the settings.
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

using namespace header::tcp_flags;

namespace {
constexpr Duration kMaxKeepaliveTime = seconds(32767);  // Linux MAX_TCP_KEEPIDLE / KEEPINTVL
constexpr uint32_t kMaxKeepaliveCount = 127;            // Linux MAX_TCP_KEEPCNT

bool keeps_alive(TcpState s) {
  return s == TcpState::kEstablished || s == TcpState::kCloseWait;
}
}  // namespace

Status Tcp::set_keepalive(EndpointId id, std::optional<Keepalive> keepalive) {
  Endpoint* e = find_endpoint(id);
  if (!e) return error(ErrorCode::kNotFound, "no endpoint " + std::to_string(id));
  if (keepalive) {
    auto valid = [](Duration d) { return d >= seconds(1) && d <= kMaxKeepaliveTime; };
    if (!valid(keepalive->idle) || !valid(keepalive->interval)) {
      return error(ErrorCode::kInvalidArgument, "keepalive idle and interval must be 1..32767 s");
    }
    if (keepalive->count < 1 || keepalive->count > kMaxKeepaliveCount) {
      return error(ErrorCode::kInvalidArgument, "keepalive count must be 1..127");
    }
  }
  e->keepalive = keepalive;
  if (e->connection && keeps_alive(e->connection->state)) arm_keepalive(*e->connection);
  return Status::ok();
}

void Tcp::arm_keepalive(Connection& c) {
  const Endpoint* e = find_endpoint(c.id);
  if (!e || !e->keepalive) {
    timers_.cancel(c);
    return;
  }
  timers_.arm(c, c.last_received + e->keepalive->idle);
}

void Tcp::keepalive_timer(Connection& c) {
  const Endpoint* e = find_endpoint(c.id);
  if (!e || !e->keepalive) return;
  const Keepalive& k = *e->keepalive;
  if (c.probes == 0 && now_ - c.last_received < k.idle) {
    arm_keepalive(c);  // the peer spoke since the timer was armed
    return;
  }
  // A user timeout replaces the probe count, as in Linux's tcp_keepalive_timer: the probes go
  // on until the peer has been silent that long, at least one probe unanswered.
  const Duration user_timeout = c.user_options.user_timeout;
  const bool expired = user_timeout > Duration::zero()
                           ? c.probes > 0 && now_ - c.last_received >= user_timeout
                           : c.probes >= k.count;
  if (expired) {
    stats_.keepalive_timeouts.add();
    send_control(c, kRst | kAck);  // as Linux does before it reports ETIMEDOUT
    c.ending = Ending::kTimedOut;
    emit_about(Event::Kind::kTimedOut, c, TcpState::kClosed);
    release(c);
    return;
  }
  if (c.probes < UINT8_MAX) ++c.probes;  // a long user timeout may probe past 255
  send_keepalive_probe(c);
  stats_.keepalive_probes_sent.add();
  timers_.arm(c, now_ + k.interval);
}

void Tcp::send_keepalive_probe(Connection& c) {
  // SEG.SEQ = SND.UNA - 1: already acknowledged, so the peer must answer with an ACK
  // (RFC 1122), and no data of ours is needed for it.
  send_bare(c.tuple, c.snd_una - 1, c.rcv_nxt, kAck, advertise_window(c), c.options.timestamps,
            c.ts_offset, c.ts_recent);
}

}  // namespace tapstack::tcp
