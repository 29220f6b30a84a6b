#include "server/link_counters.h"

#include "stack/link/tap_queue_drops.h"

namespace tapstack::server {

std::vector<LinkCounter> link_counters(Shards& shards, const link::CookiePathProgram* cookie_path) {
  std::vector<LinkCounter> out;
  uint64_t caught = 0, missed = 0;
  for (Shard& shard : shards) {
    caught += shard.loop.busy_poll().caught();
    missed += shard.loop.busy_poll().missed();
  }
  if (auto drops = link::tap_queue_drops(shards[0].loop.tap_name())) {
    out.push_back({"tap_queue_drops",
                   "Frames the kernel dropped on their way to tapstackd because the TAP's queue "
                   "was full (its transmit drops in /proc/net/dev)",
                   *drops});
  }
  out.push_back({"busy_poll_spins_caught",
                 "Busy-poll spins that a frame or command ended: handled without a wake-up",
                 caught});
  out.push_back({"busy_poll_spins_missed",
                 "Busy-poll spins that ran their whole window without input (then the loop "
                 "slept; with --busy-poll-us auto the window halved)",
                 missed});
  if (cookie_path) {
    link::CookiePathStats s = cookie_path->stats();
    out.push_back({"kernel_cookie_bad_checksums",
                   "Frames the kernel cookie path dropped for a wrong IPv4 or TCP checksum",
                   s.bad_checksum});
    out.push_back({"kernel_cookie_invalid_sources",
                   "Segments the kernel cookie path dropped for a source no peer can have",
                   s.invalid_source});
    out.push_back({"kernel_cookie_ignored",
                   "RSTs to any port, and segments a listener ignores, that the kernel cookie "
                   "path dropped as the engine would",
                   s.ignored});
    out.push_back({"kernel_cookie_resets_sent",
                   "RSTs the kernel cookie path sent, as the engine would: to segments for a port "
                   "without a listener, to ACKs without a valid cookie and to SYN-ACKs for a "
                   "listener",
                   s.resets});
    out.push_back({"kernel_cookie_closed_port_resets",
                   "Of the RSTs the kernel cookie path sent, those to a port without a listener",
                   s.closed_port_resets});
    out.push_back({"kernel_cookie_no_route",
                   "Answers the kernel cookie path dropped instead of sending: an off-link peer "
                   "and no gateway (the engine sends nothing either)",
                   s.no_route});
  }
  return out;
}

}  // namespace tapstack::server
