#include "server/proto_convert.h"

#include <google/protobuf/util/time_util.h>

namespace tapstack::server {

grpc::Status to_grpc(const Status& status) {
  using grpc::StatusCode;
  auto code = [&] {
    switch (status.code) {
      case ErrorCode::kOk:
        return StatusCode::OK;
      case ErrorCode::kInvalidArgument:
        return StatusCode::INVALID_ARGUMENT;
      case ErrorCode::kNotFound:
        return StatusCode::NOT_FOUND;
      case ErrorCode::kAlreadyExists:
        return StatusCode::ALREADY_EXISTS;
      case ErrorCode::kFailedPrecondition:
        return StatusCode::FAILED_PRECONDITION;
      case ErrorCode::kResourceExhausted:
        return StatusCode::RESOURCE_EXHAUSTED;
      case ErrorCode::kUnavailable:
        return StatusCode::UNAVAILABLE;
      case ErrorCode::kDeadlineExceeded:
        return StatusCode::DEADLINE_EXCEEDED;
      // Never leaves the server: Accept waits instead. Should it escape, it is a bug.
      case ErrorCode::kWouldBlock:
        return StatusCode::INTERNAL;
    }
    return StatusCode::UNKNOWN;
  }();
  return code == StatusCode::OK ? grpc::Status::OK : grpc::Status(code, status.message);
}

// The proto enums list the engine's states in the same order, one higher (0 is UNSPECIFIED).
static_assert(v1::TcpState_MAX == kTcpStateCount);
static_assert(v1::TCP_STATE_CLOSED == static_cast<int>(TcpState::kClosed) + 1);

v1::TcpState to_proto(TcpState state) {
  return static_cast<v1::TcpState>(static_cast<int>(state) + 1);
}

std::optional<TcpState> from_proto(v1::TcpState state) {
  if (state <= v1::TCP_STATE_UNSPECIFIED || state > v1::TcpState_MAX) return std::nullopt;
  return static_cast<TcpState>(static_cast<int>(state) - 1);
}

v1::EndpointEvent::Kind to_proto(Event::Kind kind) {
  switch (kind) {
    case Event::Kind::kStateChanged:
      return v1::EndpointEvent::KIND_STATE_CHANGED;
    case Event::Kind::kConnectionReady:
      return v1::EndpointEvent::KIND_CONNECTION_READY;
    case Event::Kind::kEstablished:
      return v1::EndpointEvent::KIND_ESTABLISHED;
    case Event::Kind::kRefused:
      return v1::EndpointEvent::KIND_REFUSED;
    case Event::Kind::kTimedOut:
      return v1::EndpointEvent::KIND_TIMED_OUT;
    case Event::Kind::kUnreachable:
      return v1::EndpointEvent::KIND_UNREACHABLE;
    case Event::Kind::kReset:
      return v1::EndpointEvent::KIND_RESET;
    case Event::Kind::kReleased:
      return v1::EndpointEvent::KIND_RELEASED;
    case Event::Kind::kReadable:  // never published (EventHub)
    case Event::Kind::kWritable:
      break;
  }
  return v1::EndpointEvent::KIND_UNSPECIFIED;
}

v1::SynCookieMode to_proto(tcp::SynCookieMode mode) {
  switch (mode) {
    case tcp::SynCookieMode::kNever:
      return v1::SYN_COOKIE_MODE_NEVER;
    case tcp::SynCookieMode::kAuto:
      return v1::SYN_COOKIE_MODE_AUTO;
    case tcp::SynCookieMode::kAlways:
      return v1::SYN_COOKIE_MODE_ALWAYS;
  }
  return v1::SYN_COOKIE_MODE_UNSPECIFIED;
}

std::optional<tcp::SynCookieMode> from_proto(v1::SynCookieMode mode) {
  switch (mode) {
    case v1::SYN_COOKIE_MODE_NEVER:
      return tcp::SynCookieMode::kNever;
    case v1::SYN_COOKIE_MODE_AUTO:
      return tcp::SynCookieMode::kAuto;
    case v1::SYN_COOKIE_MODE_ALWAYS:
      return tcp::SynCookieMode::kAlways;
    default:
      return std::nullopt;
  }
}

std::string endpoint_name(EndpointId id) {
  return "endpoints/" + std::to_string(id);
}

void to_proto(const EndpointInfo& info, v1::Endpoint* out) {
  out->set_name(endpoint_name(info.id));
  out->set_id(info.id);
  out->set_state(to_proto(info.state));
  out->mutable_local()->set_address(info.local_address.to_string());
  out->mutable_local()->set_port(info.local_port);
  if (info.listener) {
    const ListenerInfo& l = *info.listener;
    v1::ListenerStatus* s = out->mutable_listener();
    s->set_syn_queue_depth(l.syn_received);
    s->set_syn_queue_limit(l.syn_backlog);
    s->set_accept_queue_depth(l.accept_queue);
    s->set_accept_queue_limit(l.backlog);
    v1::Admission* admission = s->mutable_admission();
    if (l.admission) to_proto(*l.admission, admission->mutable_policy());
    to_proto(l.admission_counters, admission->mutable_counters());
  }
  if (info.connection) {
    out->mutable_remote()->set_address(info.remote_address.to_string());
    out->mutable_remote()->set_port(info.remote_port);
    to_proto(*info.connection, out->mutable_connection());
  }
  if (info.keepalive) to_proto(*info.keepalive, out->mutable_keepalive());
  out->set_v6_only(info.v6_only);
  out->set_no_delay(info.options.no_delay);
  if (info.options.user_timeout > Duration::zero()) {
    *out->mutable_user_timeout() =
        google::protobuf::util::TimeUtil::NanosecondsToDuration(info.options.user_timeout.count());
  }
}

void to_proto(const ConnectionInfo& c, v1::ConnectionStatus* s) {
  s->set_listener_id(c.listener);
  s->set_mss(c.mss);
  if (c.send_window_scale) s->mutable_send_window_scale()->set_value(*c.send_window_scale);
  if (c.receive_window_scale) {
    s->mutable_receive_window_scale()->set_value(*c.receive_window_scale);
  }
  s->set_sack_permitted(c.sack_permitted);
  s->set_timestamps(c.timestamps);
  s->set_from_syn_cookie(c.from_syn_cookie);
  s->set_bytes_received(c.bytes_received);
  s->set_bytes_buffered(c.bytes_buffered);
  s->set_send_mss(c.send_mss);
  s->set_bytes_acked(c.bytes_acked);
  s->set_bytes_in_flight(c.bytes_in_flight);
  s->set_bytes_unsent(c.bytes_unsent);
  s->set_segments_retransmitted(c.segments_retransmitted);
  s->set_backoff(c.backoff);
  s->set_send_window(c.send_window);
  using google::protobuf::util::TimeUtil;
  *s->mutable_srtt() = TimeUtil::NanosecondsToDuration(c.srtt.count());
  *s->mutable_rttvar() = TimeUtil::NanosecondsToDuration(c.rttvar.count());
  *s->mutable_rto() = TimeUtil::NanosecondsToDuration(c.rto.count());
  s->set_congestion_control(std::string(c.congestion_control));
  s->set_cwnd(c.cwnd);
  if (c.ssthresh) s->mutable_ssthresh()->set_value(*c.ssthresh);
  s->set_in_recovery(c.in_recovery);
  s->set_out_of_order_bytes(c.out_of_order_bytes);
  s->set_receive_window(c.receive_window);
}

void to_proto(const Keepalive& keepalive, v1::Keepalive* out) {
  auto whole_seconds = [](Duration d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d).count();
  };
  out->mutable_idle()->set_seconds(whole_seconds(keepalive.idle));
  out->mutable_interval()->set_seconds(whole_seconds(keepalive.interval));
  out->set_count(keepalive.count);
}

Result<Keepalive> from_proto(const v1::Keepalive& keepalive) {
  if (keepalive.idle().nanos() != 0 || keepalive.interval().nanos() != 0) {
    return error(ErrorCode::kInvalidArgument, "keepalive idle and interval are whole seconds");
  }
  // Clamped only so that no value overflows a Duration; the engine checks the range.
  auto seconds = [](const google::protobuf::Duration& d) {
    return std::chrono::seconds(std::clamp<int64_t>(d.seconds(), -1, int64_t{1} << 30));
  };
  return Keepalive{.idle = seconds(keepalive.idle()),
                   .interval = seconds(keepalive.interval()),
                   .count = keepalive.count()};
}

Result<OptionsChange> from_proto(const v1::SetOptionsRequest& request) {
  OptionsChange change;
  if (request.has_no_delay()) change.no_delay = request.no_delay().value();
  if (request.has_user_timeout()) {
    const google::protobuf::Duration& d = request.user_timeout();
    if (d.nanos() <= -1'000'000'000 || d.nanos() >= 1'000'000'000) {
      return error(ErrorCode::kInvalidArgument, "user_timeout is not a valid Duration");
    }
    // Clamped only so that no value overflows a Duration; the engine checks the range.
    change.user_timeout = std::chrono::seconds(std::clamp<int64_t>(d.seconds(), -1, 1LL << 30)) +
                          std::chrono::nanoseconds(d.nanos());
  }
  return change;
}

Result<IpAddress> parse_address(const std::string& field, const std::string& text,
                                std::optional<IpAddress> if_empty) {
  if (text.empty() && if_empty) return *if_empty;
  if (auto a = IpAddress::parse(text)) return *a;
  return error(ErrorCode::kInvalidArgument,
               field + " must be an IPv4 address (198.18.0.2) or an IPv6 one (2001:db8::2, " +
                   "without brackets), not '" + text + "'");
}

Result<uint16_t> parse_port(const std::string& field, uint32_t port, bool zero_ok) {
  if (port > 65535 || (port == 0 && !zero_ok)) {
    return error(ErrorCode::kInvalidArgument, field + " must be " + (zero_ok ? "0" : "1") +
                                                  "..65535, not " + std::to_string(port));
  }
  return static_cast<uint16_t>(port);
}

}  // namespace tapstack::server
