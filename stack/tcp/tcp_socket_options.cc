// The options a user sets per connection (SetOptions): no-delay (Nagle off, Linux's
// TCP_NODELAY) and the user timeout (RFC 5482, Linux's TCP_USER_TIMEOUT), with the user
// timeout's clock. The timers that apply it are the RTO and persist timers (tcp_send.cc) and
// keepalive's (tcp_keepalive.cc).
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

Status Tcp::set_options(EndpointId id, const OptionsChange& change) {
  Endpoint* e = find_endpoint(id);
  if (!e) return error(ErrorCode::kNotFound, "no endpoint " + std::to_string(id));
  if (!change.no_delay && !change.user_timeout) {
    return error(ErrorCode::kInvalidArgument, "nothing to set: no_delay, user_timeout or both");
  }
  if (change.user_timeout &&
      (*change.user_timeout < Duration::zero() || *change.user_timeout > kMaxUserTimeout)) {
    return error(ErrorCode::kInvalidArgument, "user timeout must be 0..2147483647 ms");
  }
  ConnectionOptions& options = e->connection ? e->connection->user_options : e->options;
  const bool pushes = change.no_delay.value_or(false) && !options.no_delay;
  if (change.no_delay) options.no_delay = *change.no_delay;
  // A new user timeout applies from the timer's next expiry, as setsockopt's does in Linux.
  if (change.user_timeout) options.user_timeout = *change.user_timeout;
  // What Nagle holds goes now, as Linux's tcp_push_pending_frames on TCP_NODELAY.
  if (pushes && e->connection) transmit(*e->connection);
  return Status::ok();
}

bool Tcp::user_timeout_expired(const Connection& c) const {
  const Duration limit = c.user_options.user_timeout;
  // At least one retransmission or probe went unanswered first, as Linux's
  // retransmits_timed_out asks.
  return limit > Duration::zero() && c.retransmits > 0 && now_ - c.stalled_since >= limit;
}

Time Tcp::within_user_timeout(const Connection& c, Time deadline) const {
  const Duration limit = c.user_options.user_timeout;
  if (limit == Duration::zero() || c.retransmits == 0) return deadline;
  return std::min(deadline, c.stalled_since + limit);
}

}  // namespace tapstack::tcp
