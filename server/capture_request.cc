#include "server/capture_request.h"

#include <string>

namespace tapstack::server {
namespace {

Status invalid(const std::string& message) {
  return error(ErrorCode::kInvalidArgument, message);
}

tcp::IpPrefix host_prefix(const IpAddress& a) {
  return {a, static_cast<uint8_t>(a.is_v4() ? 32 : 128)};
}

// A prefix, or an address alone: all of its bits.
std::optional<tcp::IpPrefix> parse_peer(std::string_view text) {
  if (text.find('/') != std::string_view::npos) return tcp::IpPrefix::parse(text);
  auto address = IpAddress::parse(text);
  if (!address) return std::nullopt;
  return host_prefix(*address);
}

std::optional<uint16_t> port_of(uint32_t port) {
  if (port == 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

Status parse_tuple(const v1::CaptureTuple& tuple, capture::FilterSpec& filter) {
  auto local = IpAddress::parse(tuple.local_address());
  auto remote = IpAddress::parse(tuple.remote_address());
  if (!local || !remote) {
    return invalid("tuple: '" + tuple.local_address() + "' and '" + tuple.remote_address() +
                   "' must both be IP addresses");
  }
  if (local->is_v4() != remote->is_v4()) return invalid("tuple: addresses of two families");
  filter.local_port = port_of(tuple.local_port());
  filter.peer_port = port_of(tuple.remote_port());
  if (!filter.local_port || !filter.peer_port) return invalid("tuple: ports must be 1..65535");
  filter.local_address = *local;
  filter.peer = host_prefix(*remote);
  return Status::ok();
}

}  // namespace

Result<CaptureOptions> parse_capture_request(const v1::CaptureRequest& request) {
  CaptureOptions o;
  o.listener = request.listener_id();
  const bool has_tuple = request.has_tuple();
  if (o.listener && request.port()) return invalid("listener_id and port exclude each other");
  if (has_tuple && (o.listener || request.port() || !request.peer().empty())) {
    return invalid("a tuple excludes listener_id, port and peer");
  }
  if (request.port()) {
    o.filter.local_port = port_of(request.port());
    if (!o.filter.local_port) return invalid("port must be 1..65535");
  }
  if (!request.peer().empty()) {
    o.filter.peer = parse_peer(request.peer());
    if (!o.filter.peer) {
      return invalid("peer '" + request.peer() +
                     "' is not an address or prefix (198.18.0.0/15, 2001:db8::/32)");
    }
  }
  if (has_tuple) {
    if (Status s = parse_tuple(request.tuple(), o.filter); !s.is_ok()) return s;
  }
  o.filter.handshake_only = request.mode() == v1::CAPTURE_MODE_HANDSHAKE;
  if (request.count() > kMaxCaptureCount) return invalid("count must be at most 10000000");
  o.count = request.count();
  const auto& d = request.duration();
  // Checked before converting: nanoseconds of a large seconds field would overflow.
  if (d.seconds() < 0 || d.seconds() > 86400 || d.nanos() < 0 || d.nanos() > 999'999'999 ||
      seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos()) > kMaxCaptureDuration) {
    return invalid("duration must be 0..24h");
  }
  o.duration = seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos());
  if (request.ring_bytes()) {
    if (request.ring_bytes() < kMinCaptureRingBytes ||
        request.ring_bytes() > kMaxCaptureRingBytes) {
      return invalid("ring_bytes must be 65536..67108864");
    }
    o.ring_bytes = request.ring_bytes();
  }
  return o;
}

Status narrow_to_listener(const EndpointInfo& info, capture::FilterSpec& filter) {
  if (!info.listener) {
    return error(ErrorCode::kFailedPrecondition,
                 "endpoint " + std::to_string(info.id) + " is not listening");
  }
  filter.local_port = info.local_port;
  if (!info.local_address.is_unspecified()) {
    filter.local_address = info.local_address;
  } else if (info.local_address.is_v4()) {
    filter.family = IpFamily::kIpv4;
  } else if (info.v6_only) {
    filter.family = IpFamily::kIpv6;
  }
  return Status::ok();
}

}  // namespace tapstack::server
