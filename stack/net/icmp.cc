#include "stack/net/icmp.h"

#include <algorithm>
#include <array>

namespace tapstack::net {

using namespace header::icmp_type;

std::string_view icmp_error_reason(uint8_t type, uint8_t code) {
  // Destination unreachable codes 0-15 (RFC 792, RFC 1122, RFC 1812); 4 (fragmentation
  // needed) is left out, as Linux's tcp_v4_err leaves it to path MTU discovery.
  static constexpr std::array<std::string_view, 16> kUnreachable = {
      "network unreachable (ICMP)",
      "host unreachable (ICMP)",
      "protocol unreachable (ICMP)",
      "port unreachable (ICMP)",
      "",
      "source route failed (ICMP)",
      "destination network unknown (ICMP)",
      "destination host unknown (ICMP)",
      "source host isolated (ICMP)",
      "network administratively prohibited (ICMP)",
      "host administratively prohibited (ICMP)",
      "network unreachable for TOS (ICMP)",
      "host unreachable for TOS (ICMP)",
      "communication administratively prohibited (ICMP)",
      "host precedence violation (ICMP)",
      "precedence cutoff in effect (ICMP)",
  };
  switch (type) {
    case kDestinationUnreachable:
      return code < kUnreachable.size() ? kUnreachable[code] : std::string_view{};
    case kTimeExceeded:
      return "time exceeded in transit (ICMP)";
    case kParameterProblem:
      return "parameter problem (ICMP)";
    default:
      return {};
  }
}

Icmp::Icmp(const EngineConfig& config, Stats& stats, IpOutput& output, tcp::Tcp& tcp,
           IcmpRateLimit& rate_limit)
    : config_(config), stats_(stats), output_(output), tcp_(tcp), rate_limit_(rate_limit) {}

void Icmp::receive(const header::Ipv4View& ip, RxChecksum checksum, Time now) {
  auto icmp = header::IcmpView::parse(ip.payload());
  if (!icmp || (checksum == RxChecksum::kUnverified && !icmp->checksum_ok())) {
    stats_.drop(DropReason::bad_icmp);
    return;
  }
  stats_.icmp_received.add();
  if (icmp->type() == kEchoRequest) {
    if (icmp->code() != 0) {
      stats_.drop(DropReason::icmp_ignored);
      return;
    }
    echo_reply(ip, *icmp, now);
    return;
  }
  std::string_view reason = icmp_error_reason(icmp->type(), icmp->code());
  if (reason.empty()) {
    stats_.drop(DropReason::icmp_ignored);
    return;
  }
  if (!quoted_error(icmp->body(), reason)) stats_.drop(DropReason::icmp_unmatched);
}

void Icmp::echo_reply(const header::Ipv4View& ip, const header::IcmpView& request, Time now) {
  // Linux exempts echo replies from its ICMP rate mask; we limit them too, since they are all
  // we send: a ping flood then costs a bounded number of replies, whatever its rate.
  if (!rate_limit_.allow(now)) {
    stats_.drop(DropReason::icmp_rate_limited);
    return;
  }
  constexpr size_t kIpHeader = header::Ipv4View::kMinSize;
  size_t message = request.bytes().size();
  buffer_.resize(kLinkHeadroom + kIpHeader + message);
  uint8_t* out = buffer_.data() + kLinkHeadroom;
  std::copy(request.body().begin(), request.body().end(),
            out + kIpHeader + header::IcmpView::kHeaderSize);
  header::write_icmp(out + kIpHeader, kEchoReply, 0, request.rest_of_header(),
                     {out + kIpHeader + header::IcmpView::kHeaderSize, request.body().size()});
  header::write_ipv4(out, config_.address.address, ip.source(), header::kProtocolIcmp,
                     static_cast<uint16_t>(kIpHeader + message), ip_id_++, 64);
  stats_.icmp_sent.add();
  output_.send_ip(ip.source(), buffer_, {});
}

bool Icmp::quoted_error(std::span<const uint8_t> quoted, std::string_view reason) {
  auto segment = header::parse_quoted_tcp(quoted);
  if (!segment || segment->source != config_.address.address) return false;
  return tcp_.icmp_error(tcp::FourTuple::sent(*segment), segment->seq, reason);
}

void Icmp::next_hop_failed(std::span<const uint8_t> ip_packet) {
  // Packets of no connection (a listener's SYN-ACKs, resets, echo replies) just go: their
  // records time out on their own.
  quoted_error(ip_packet, kNoArpReply);
}

}  // namespace tapstack::net
