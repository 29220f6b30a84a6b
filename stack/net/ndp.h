// Neighbour Discovery (RFC 4861) for our IPv6 addresses, a thin front end over the neighbour
// table it shares with ARP (neighbour_table.h), and duplicate address detection (RFC 4862 §5.4)
// for each address at start:
//  - solicitations for our addresses are answered with a solicited advertisement (S and O flags,
//    our MAC in a target link-layer option); a DAD probe (from ::) for one of them gets an
//    advertisement to all-nodes (§7.2.4);
//  - next hops are resolved by solicitations to their solicited-node group, retried as ARP is;
//  - entries are created only by our own resolution or by a solicitation for our address that
//    carries the asker's MAC (§7.2.3, as ARP learns from a who-has for our address);
//    advertisements only update entries that exist (§7.2.5);
//  - an address is tentative until its probes went unanswered for RetransTimer after the last,
//    and is not used meanwhile; an advertisement for it, or another host's probe for it, makes
//    it duplicate, never to be used (§5.4.3, §5.4.4).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "stack/engine_config.h"
#include "stack/frame_sink.h"
#include "stack/header/icmpv6.h"
#include "stack/header/ipv6.h"
#include "stack/net/neighbour_table.h"
#include "stack/stats.h"
#include "stack/timer_wheel.h"

namespace tapstack::net {

enum class Ipv6AddressState : uint8_t {
  kTentative,  // duplicate address detection is running: not used
  kPreferred,  // in use
  kDuplicate,  // another host has it: never used
};

struct Ipv6AddressInfo {
  Ipv6Subnet subnet;
  Ipv6AddressState state = Ipv6AddressState::kTentative;
  bool operator==(const Ipv6AddressInfo&) const = default;
};

// The all-nodes group (RFC 4291 §2.7.1) and its Ethernet address.
inline constexpr Ipv6Address kAllNodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};

class Ndp final : private NeighbourProtocol<Ipv6Address> {
 public:
  static constexpr uint8_t kTimerKind = 2;     // the neighbour table's timers
  static constexpr uint8_t kDadTimerKind = 3;  // the addresses' next probes
  using Table = NeighbourTable<Ipv6Address>;
  // RFC 4861 §10 RETRANS_TIMER: the pace of DAD probes, and how long the last one waits.
  static constexpr Duration kRetransTimer = seconds(1);

  // Our addresses, tentative until start() has probed them.
  Ndp(const EngineConfig& config, Stats& stats, TimerWheel& timers, FrameSink& sink, Time now);
  // Starts DAD, once: each address's first probe goes out now. Called as the engine first runs,
  // on the thread that owns the link (an io_uring link takes submissions from that one only),
  // never from the constructor.
  void start(Time now);

  // Told, for each packet that waited for a next hop that never answered, the IPv6 packet.
  void set_unreachable_handler(Table::UnreachableHandler handler) {
    table_.set_unreachable_handler(std::move(handler));
  }
  // Sends `frame` (an IPv6 packet behind kLinkHeadroom bytes) to the on-link `next_hop`.
  void send(const Ipv6Address& next_hop, std::span<uint8_t> frame, const FrameOffload& offload,
            Time now) {
    table_.send(next_hop, frame, offload, now);
  }
  // A solicitation or advertisement (the IPv6 checks and the checksum done); `sender` is the
  // Ethernet source.
  void receive(const header::Ipv6View& ip, const header::Icmpv6View& icmp, const MacAddress& sender,
               Time now);
  void on_timer(TimerNode& node, Time now);

  // Our addresses: the link-local one first, then the configured ones.
  std::vector<Ipv6AddressInfo> addresses(Time now) const;
  // Whether `a` is assigned to us, in any state.
  bool is_assigned(const Ipv6Address& a) const { return find(a) != nullptr; }
  // Whether `a` is ours and preferred: a destination we take and a source we use.
  bool is_usable(const Ipv6Address& a, Time now) const;
  // Whether `a` is a group we are in: all-nodes, or the solicited-node group of an address of
  // ours (tentative ones too, RFC 4862 §5.4.2).
  bool in_our_groups(const Ipv6Address& a) const;
  // Whether a frame to `mac` is ours to read: the Ethernet address of one of those groups.
  bool accepts(const MacAddress& mac) const;
  // Whether `a` is on the link: link-local, or in the prefix of one of our addresses.
  bool on_link(const Ipv6Address& a) const;
  // The preferred address of ours to send to `destination` from: link-local for a link-local
  // destination, else one whose prefix holds it, else any global one (RFC 6724's scope and
  // longest-match rules, cut to what a host with one link needs).
  std::optional<Ipv6Address> source_for(const Ipv6Address& destination, Time now) const;
  size_t pending_bytes() const { return table_.pending_bytes(); }

 private:
  struct LocalAddress : TimerNode {
    Ipv6Subnet subnet;
    int probes_left = 0;     // DAD probes still to send
    Time tentative_until{};  // the last probe went unanswered until then
    bool duplicate = false;
    Ipv6AddressState state(Time now) const;
  };

  void solicit(const Ipv6Address& target, const std::optional<MacAddress>& known,
               Time now) override;
  void receive_solicitation(const header::Ipv6View& ip, const header::Icmpv6View& icmp,
                            const MacAddress& sender, Time now);
  void receive_advertisement(const header::Ipv6View& ip, const header::Icmpv6View& icmp,
                             const MacAddress& sender, Time now);
  void add_address(const Ipv6Subnet& subnet, Time now);
  void probe(LocalAddress& address, Time now);
  void mark_duplicate(LocalAddress& address);
  // Our advertisement for `target` to `destination` at `destination_mac`.
  void advertise(const Ipv6Address& target, const Ipv6Address& destination,
                 const MacAddress& destination_mac, bool solicited);
  // Puts an ND message (written at its place in `frame`, `size` bytes) on the link.
  void emit(std::span<uint8_t> frame, size_t size, const Ipv6Address& source,
            const Ipv6Address& destination, const MacAddress& destination_mac);
  const LocalAddress* find(const Ipv6Address& a) const;
  LocalAddress* find(const Ipv6Address& a) {
    return const_cast<LocalAddress*>(std::as_const(*this).find(a));
  }

  const EngineConfig& config_;
  Stats& stats_;
  TimerWheel& timers_;
  FrameSink& sink_;
  std::deque<LocalAddress> addresses_;  // deque: timer nodes never move
  bool started_ = false;
  Table table_;
};

}  // namespace tapstack::net
