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

bool Tcp::icmp_error(const FourTuple& tuple, uint32_t quoted_seq, std::string_view reason) {
  auto it = connections_.find(tuple);
  if (it == connections_.end()) return false;
  Connection& c = *it->second;
  if (!seq_in_range(quoted_seq, c.snd_una, c.snd_nxt + 1)) {
    stats_.drop(DropReason::icmp_out_of_window);
    return true;
  }
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

}  // namespace tapstack::tcp
