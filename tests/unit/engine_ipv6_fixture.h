// The engine test bench for IPv6: a peer on the link crafts Ethernet/IPv6 frames with libtins
// (neighbour solicitations and advertisements, echo requests, packets with extension headers),
// and the engine's ICMPv6 output is dissected with libtins.
#pragma once

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {

// An ICMPv6 message the engine sent, as libtins reads it.
struct SentIcmpv6 {
  std::string eth_destination;
  std::string ip_source;
  std::string ip_destination;
  int hop_limit = 0;
  int type = 0;
  int code = 0;
  uint32_t rest_of_header = 0;  // echo: identifier and sequence; errors: pointer or MTU
  std::string target;           // NS and NA
  bool solicited = false;       // NA
  bool override = false;        // NA
  std::optional<std::string> link_layer_option;  // NS: source, NA: target link-layer address
  Bytes body;                // what follows the 8-byte header (echo data, quoted packet)
  bool checksum_ok = false;  // as libtins recomputes it
};

inline std::optional<SentIcmpv6> dissect_icmpv6(const Bytes& frame) {
  Tins::EthernetII eth(frame.data(), static_cast<uint32_t>(frame.size()));
  const auto* ip = eth.find_pdu<Tins::IPv6>();
  const auto* icmp = eth.find_pdu<Tins::ICMPv6>();
  if (!ip || !icmp) return std::nullopt;
  SentIcmpv6 s;
  s.eth_destination = eth.dst_addr().to_string();
  s.ip_source = ip->src_addr().to_string();
  s.ip_destination = ip->dst_addr().to_string();
  s.hop_limit = ip->hop_limit();
  s.type = icmp->type();
  s.code = icmp->code();
  const Bytes message(frame.begin() + 54, frame.end());
  s.rest_of_header = uint32_t{message[4]} << 24 | uint32_t{message[5]} << 16 |
                     uint32_t{message[6]} << 8 | message[7];
  s.body.assign(message.begin() + 8, message.end());
  if (icmp->type() == Tins::ICMPv6::NEIGHBOUR_SOLICIT ||
      icmp->type() == Tins::ICMPv6::NEIGHBOUR_ADVERT) {
    s.target = icmp->target_addr().to_string();
    s.solicited = icmp->solicited();
    s.override = icmp->override();
    if (icmp->search_option(Tins::ICMPv6::SOURCE_ADDRESS)) {
      s.link_layer_option = icmp->source_link_layer_addr().to_string();
    }
    if (icmp->search_option(Tins::ICMPv6::TARGET_ADDRESS)) {
      s.link_layer_option = icmp->target_link_layer_addr().to_string();
    }
  }
  Tins::EthernetII copy = eth;
  Bytes again = copy.serialize();
  Tins::EthernetII reparsed(again.data(), static_cast<uint32_t>(again.size()));
  s.checksum_ok = reparsed.rfind_pdu<Tins::ICMPv6>().checksum() == icmp->checksum();
  return s;
}

class EngineIpv6Test : public EngineTest {
 protected:
  EngineIpv6Test() { start(ipv6_config()); }

  // Our global address 2001:db8::2/64, DAD off: both addresses are usable at once.
  static EngineConfig ipv6_config(int dad_transmits = 0) {
    EngineConfig config;
    config.ipv6_addresses = {*Ipv6Subnet::parse("2001:db8::2/64")};
    config.ipv6_dad_transmits = dad_transmits;
    return config;
  }
  void start(const EngineConfig& config) { restart(config); }

  // ---- Frames in ----

  // An echo request from `source` (the peer's address unless given) to `destination`.
  static Bytes echo_request(const Peer6& from, const Tins::IPv6Address& destination,
                            uint16_t sequence = 1, std::optional<Tins::IPv6Address> source = {}) {
    Tins::ICMPv6 echo(Tins::ICMPv6::ECHO_REQUEST);
    echo.identifier(0x1234);
    echo.sequence(sequence);
    Tins::IPv6 ip(destination, source.value_or(from.ip));
    const bool multicast = destination.is_multicast();
    Tins::EthernetII frame =
        Tins::EthernetII(multicast ? multicast_mac(destination) : kOurMac, from.mac) / ip / echo /
        Tins::RawPDU(Bytes{'p', 'i', 'n', 'g'});
    return frame.serialize();
  }

  // The peer asks for our global address with its MAC in the solicitation, which creates its
  // entry (RFC 4861 §7.2.3); our answer is taken away.
  void introduce(const Peer6& peer) {
    size_t before = sink_.frames.size();
    deliver(solicitation(peer, peer.ip, kOurGlobal));
    sink_.frames.resize(before);
  }

  // ---- Frames out ----

  std::vector<SentIcmpv6> take_icmpv6() {
    std::vector<SentIcmpv6> out;
    for (const Bytes& frame : take_frames()) {
      auto m = dissect_icmpv6(frame);
      if (!m) {
        ADD_FAILURE() << "the engine sent a frame that is not ICMPv6 (" << frame.size()
                      << " bytes)";
        continue;
      }
      EXPECT_TRUE(m->checksum_ok);
      out.push_back(*m);
    }
    return out;
  }
  SentIcmpv6 take_one_icmpv6() {
    auto all = take_icmpv6();
    if (all.size() != 1) {
      ADD_FAILURE() << all.size() << " ICMPv6 messages sent, expected one";
      return {};
    }
    return all.front();
  }
  std::vector<net::Ipv6AddressState> address_states() const {
    std::vector<net::Ipv6AddressState> states;
    for (const auto& a : engine_->ipv6_addresses()) states.push_back(a.state);
    return states;
  }
  uint64_t ndp_table_size() const {
    return stats().ndp_entries_created.get() - stats().ndp_entries_removed.get();
  }

  Peer6 peer_;
};

}  // namespace tapstack::engine_test
