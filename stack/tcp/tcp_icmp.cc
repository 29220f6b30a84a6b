// ICMP errors for TCP, as Linux's tcp_v4_err and RFC 5461 treat them. An error must quote a
// sequence number we sent and have not had acknowledged (SND.UNA..SND.NXT), or a blind
// attacker who guessed only the ports could end connections; others are counted and ignored.
// A connection attempt (SYN-SENT, or SYN-RECEIVED after a simultaneous open) ends on every
// error ICMP passes here, soft ones (network or host unreachable) included: Linux does so,
// and RFC 5461 documents it as what keeps a Connect from waiting out its SYN retries when
// the peer cannot be reached. A synchronized connection treats every error as soft: counted,
// nothing else (RFC 5461 section 4; Linux without IP_RECVERR).
#include "stack/tcp/seqnum.h"
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

Connection* Tcp::icmp_quoted(const FourTuple& tuple, uint32_t quoted_seq, bool& known) {
  auto it = connections_.find(tuple);
  known = it != connections_.end();
  if (!known) return nullptr;
  Connection& c = *it->second;
  if (!seq_in_range(quoted_seq, c.snd_una, c.snd_nxt + 1)) {
    stats_.drop(DropReason::icmp_out_of_window);
    return nullptr;
  }
  return &c;
}

bool Tcp::icmp_error(const FourTuple& tuple, uint32_t quoted_seq, std::string_view reason) {
  bool known = false;
  Connection* quoted = icmp_quoted(tuple, quoted_seq, known);
  if (!quoted) return known;
  Connection& c = *quoted;
  bool connecting =
      c.state == TcpState::kSynSent || (c.state == TcpState::kSynReceived && c.listener == 0);
  if (!connecting) {
    stats_.icmp_soft_errors.add();
    return true;
  }
  stats_.unreachable_aborts.add();
  stats_.attempt_fails.add();
  c.ending = Ending::kUnreachable;
  emit_about(Event::Kind::kUnreachable, c, TcpState::kClosed, {}, reason);
  release(c);
  return true;
}

bool Tcp::packet_too_big(const FourTuple& tuple, uint32_t quoted_seq, uint32_t mtu) {
  bool known = false;
  Connection* quoted = icmp_quoted(tuple, quoted_seq, known);
  if (!quoted) return known;
  Connection& c = *quoted;
  // An IPv6 link carries 1280 bytes at least (RFC 8200 §5): a smaller figure is ignored, as
  // Linux's tcp_v6_err does since atomic fragments went (RFC 8021). Only a lower MSS is taken.
  constexpr uint32_t kMinIpv6Mtu = 1280;
  constexpr uint32_t kHeaders = 60;  // IPv6 and TCP without options
  if (mtu < kMinIpv6Mtu || mtu - kHeaders >= c.options.mss) return true;
  stats_.path_mtu_reductions.add();
  // What is in flight at the old size is lost beyond the hop that sent this; loss detection
  // sends it again, cut to the new size (retransmit() never sends more than one MSS).
  c.options.mss = static_cast<uint16_t>(mtu - kHeaders);
  return true;
}

}  // namespace tapstack::tcp
