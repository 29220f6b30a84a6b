// Neighbour Discovery (RFC 4861): solicitations and advertisements from libtins read through the
// views, each validity rule of §7.1.1 and §7.1.2 on its own, the option walk of §4.6, and the
// writers' messages dissected by libtins.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "stack/header/addresses.h"
#include "stack/header/ethernet.h"
#include "stack/header/icmpv6.h"
#include "stack/header/ipv6.h"
#include "stack/header/ipv6_address.h"
#include "stack/header/ndp.h"
#include "tests/unit/libtins_addresses.h"
#include "tests/unit/reference_checksum.h"

namespace tapstack::header {
namespace {

using Bytes = std::vector<uint8_t>;
using header_test::Ours;
using header_test::ReferenceIpv6Sum;

constexpr size_t kIcmp = Ipv6View::kHeaderSize;  // where the message starts in these packets
const char* const kOurMac = "02:00:00:00:00:02";
const char* const kPeerMac = "02:00:00:00:00:01";

Ipv6Address V6(const char* text) {
  return *Ipv6Address::parse(text);
}

struct Addresses {
  std::string src = "fe80::1";
  std::string dst = "ff02::1:ff00:2";
  std::string target = "fe80::ff:fe00:2";
};

Bytes LibtinsNeighbourMessage(const Tins::ICMPv6& icmp, const Addresses& a, uint8_t hop_limit) {
  Tins::IPv6 ip(a.dst, a.src);
  ip.hop_limit(hop_limit);
  return (ip / icmp).serialize();
}

Bytes LibtinsSolicitation(const Addresses& a, std::optional<std::string> source_mac,
                          uint8_t hop_limit = 255) {
  Tins::ICMPv6 ns(Tins::ICMPv6::NEIGHBOUR_SOLICIT);
  ns.target_addr(a.target);
  if (source_mac) ns.source_link_layer_addr(*source_mac);
  return LibtinsNeighbourMessage(ns, a, hop_limit);
}

Bytes LibtinsAdvertisement(const Addresses& a, NeighbourAdvertisementFlags flags,
                           std::optional<std::string> target_mac, uint8_t hop_limit = 255) {
  Tins::ICMPv6 na(Tins::ICMPv6::NEIGHBOUR_ADVERT);
  na.target_addr(a.target);
  na.router(flags.router);
  na.solicited(flags.solicited);
  na.override(flags.override);
  if (target_mac) na.target_link_layer_addr(*target_mac);
  return LibtinsNeighbourMessage(na, a, hop_limit);
}

// The view of `packet`, whose ICMPv6 message follows the fixed header. The checksum is not the
// views' business; the tests that edit bytes leave it stale on purpose.
template <class View>
std::optional<View> Parse(const Bytes& packet) {
  auto ip = Ipv6View::parse(packet);
  EXPECT_TRUE(ip);
  auto icmp = Icmpv6View::parse(std::get<Ipv6UpperLayer>(ip.value().find_upper_layer()).payload);
  if (!icmp) return std::nullopt;
  return View::parse(*ip, *icmp);
}
auto ParseNs = Parse<NeighbourSolicitationView>;
auto ParseNa = Parse<NeighbourAdvertisementView>;

// `packet` with `options` appended to its message (payload length fixed, checksum stale).
Bytes WithOptions(Bytes packet, const Bytes& options) {
  packet.insert(packet.end(), options.begin(), options.end());
  const size_t payload = packet.size() - kIcmp;
  packet[4] = static_cast<uint8_t>(payload >> 8);
  packet[5] = static_cast<uint8_t>(payload);
  return packet;
}

TEST(NdpLibtins, ReadsSolicitations) {
  const Addresses a;
  const Bytes packet = LibtinsSolicitation(a, kPeerMac);
  ASSERT_EQ(packet.size(), kIcmp + 32);
  ASSERT_EQ(ReferenceIpv6Sum(packet), 0xffff);
  auto ns = ParseNs(packet);
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->target(), V6("fe80::ff:fe00:2"));
  EXPECT_EQ(ns->source_link_layer(), MacAddress::parse(kPeerMac));

  // A unicast probe (RFC 4861 §7.2.2) without the option.
  Addresses probe;
  probe.dst = probe.target;
  const Bytes unicast_packet = LibtinsSolicitation(probe, std::nullopt);  // the view's bytes
  auto unicast = ParseNs(unicast_packet);
  ASSERT_TRUE(unicast);
  EXPECT_FALSE(unicast->source_link_layer());
}

TEST(Ndp, SolicitationValidity) {
  const Addresses a;
  const Bytes good = LibtinsSolicitation(a, kPeerMac);
  ASSERT_TRUE(ParseNs(good));
  // Hop limit 255 only: anything less crossed a router.
  for (uint8_t hop_limit : {0, 1, 64, 254}) {
    EXPECT_FALSE(ParseNs(LibtinsSolicitation(a, kPeerMac, hop_limit))) << int{hop_limit};
  }
  Bytes code = good;
  code[kIcmp + 1] = 1;
  EXPECT_FALSE(ParseNs(code));
  Bytes advertisement = good;  // the right layout under the wrong type
  advertisement[kIcmp] = icmpv6_type::kNeighbourAdvertisement;
  EXPECT_FALSE(ParseNs(advertisement));
  // Shorter than 24 bytes of ICMPv6.
  const Bytes bare = LibtinsSolicitation(a, std::nullopt);
  ASSERT_EQ(bare.size(), kIcmp + kNeighbourMessageSize);
  ASSERT_TRUE(ParseNs(bare));
  Bytes short_message(bare.begin(), bare.end() - 1);
  short_message[5] -= 1;
  EXPECT_FALSE(ParseNs(short_message));
  // A multicast target.
  Addresses multicast = a;
  multicast.target = "ff02::1";
  EXPECT_FALSE(ParseNs(LibtinsSolicitation(multicast, kPeerMac)));
}

TEST(Ndp, DuplicateAddressDetectionRules) {
  // From the unspecified address: only to a solicited-node group, and without the source
  // link-layer address (RFC 4861 §7.1.1).
  Addresses dad;
  dad.src = "::";
  const Bytes packet = LibtinsSolicitation(dad, std::nullopt);  // the view's bytes
  auto ns = ParseNs(packet);
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->target(), V6("fe80::ff:fe00:2"));
  EXPECT_FALSE(ParseNs(LibtinsSolicitation(dad, kPeerMac)));
  for (const char* dst : {"ff02::1", "fe80::ff:fe00:2", "ff02::2"}) {
    Addresses bad = dad;
    bad.dst = dst;
    EXPECT_FALSE(ParseNs(LibtinsSolicitation(bad, std::nullopt))) << dst;
  }
}

TEST(Ndp, OptionsAreWalkedSafely) {
  EXPECT_TRUE(parse_ndp_options({}));
  const Bytes source = {1, 1, 2, 0, 0, 0, 0, 1};
  const Bytes target = {2, 1, 2, 0, 0, 0, 0, 2};
  const Bytes nonce = {14, 1, 1, 2, 3, 4, 5, 6};  // RFC 3971: not ours, skipped
  const Bytes mtu = {5, 1, 0, 0, 0, 0, 5, 0xdc};
  auto both = parse_ndp_options([&] {
    Bytes all = nonce;
    for (const Bytes* b : {&source, &mtu, &target}) all.insert(all.end(), b->begin(), b->end());
    return all;
  }());
  ASSERT_TRUE(both);
  EXPECT_EQ(both->source_link_layer, MacAddress::parse("02:00:00:00:00:01"));
  EXPECT_EQ(both->target_link_layer, MacAddress::parse("02:00:00:00:00:02"));
  // Of two, the first counts.
  Bytes twice = source;
  twice.insert(twice.end(), {1, 1, 2, 0, 0, 0, 0, 9});
  EXPECT_EQ(parse_ndp_options(twice)->source_link_layer, MacAddress::parse("02:00:00:00:00:01"));

  const Bytes malformed[] = {
      {1, 0, 2, 0, 0, 0, 0, 1},                          // length 0 (RFC 4861 §4.6)
      {14, 0},                                           // length 0 of an unknown type too
      {1, 2, 2, 0, 0, 0, 0, 1},                          // 16 bytes said, 8 there
      {1},                                               // no length byte
      {1, 1, 2, 0, 0, 0, 0},                             // one byte short
      {1, 2, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},  // an Ethernet address in 16 bytes
      {2, 2, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
      {14, 1, 1, 2, 3, 4, 5, 6, 0},  // a stray byte after a good option
  };
  for (const Bytes& options : malformed) EXPECT_FALSE(parse_ndp_options(options)) << options.size();

  // A zero-length option makes the whole message invalid, whatever precedes it.
  const Bytes packet = LibtinsSolicitation(Addresses{}, kPeerMac);
  EXPECT_TRUE(ParseNs(WithOptions(packet, nonce)));
  EXPECT_FALSE(ParseNs(WithOptions(packet, {14, 0, 0, 0, 0, 0, 0, 0})));
  EXPECT_FALSE(ParseNs(WithOptions(packet, {14, 2, 0, 0, 0, 0, 0, 0})));
}

TEST(NdpLibtins, ReadsAdvertisementsWithEachFlag) {
  Addresses a;
  a.src = "fe80::ff:fe00:2";
  a.dst = "fe80::1";
  a.target = a.src;
  for (int bits = 0; bits < 8; ++bits) {
    const NeighbourAdvertisementFlags flags{(bits & 4) != 0, (bits & 2) != 0, (bits & 1) != 0};
    const Bytes packet = LibtinsAdvertisement(a, flags, kOurMac);
    ASSERT_EQ(ReferenceIpv6Sum(packet), 0xffff);
    auto na = ParseNa(packet);
    ASSERT_TRUE(na) << bits;
    EXPECT_EQ(na->flags(), flags) << bits;
    EXPECT_EQ(na->target(), V6("fe80::ff:fe00:2"));
    EXPECT_EQ(na->target_link_layer(), MacAddress::parse(kOurMac));
    EXPECT_FALSE(ParseNs(packet));
  }
  EXPECT_FALSE(ParseNa(LibtinsAdvertisement(a, {}, std::nullopt))->target_link_layer());
}

TEST(Ndp, AdvertisementValidity) {
  Addresses a;
  a.src = "fe80::ff:fe00:2";
  a.dst = "fe80::1";
  a.target = a.src;
  const NeighbourAdvertisementFlags solicited{false, true, true};
  const Bytes good = LibtinsAdvertisement(a, solicited, kOurMac);
  ASSERT_TRUE(ParseNa(good));
  EXPECT_FALSE(ParseNa(LibtinsAdvertisement(a, solicited, kOurMac, 254)));
  Bytes code = good;
  code[kIcmp + 1] = 3;
  EXPECT_FALSE(ParseNa(code));
  Bytes short_message(good.begin(), good.begin() + kIcmp + kNeighbourMessageSize - 1);
  short_message[5] = kNeighbourMessageSize - 1;
  EXPECT_FALSE(ParseNa(short_message));
  Addresses multicast_target = a;
  multicast_target.target = "ff02::1";
  EXPECT_FALSE(ParseNa(LibtinsAdvertisement(multicast_target, solicited, kOurMac)));
  EXPECT_FALSE(ParseNa(WithOptions(good, {2, 0, 0, 0, 0, 0, 0, 0})));

  // To a multicast group: only unsolicited (RFC 4861 §7.1.2).
  Addresses all_nodes = a;
  all_nodes.dst = "ff02::1";
  EXPECT_FALSE(ParseNa(LibtinsAdvertisement(all_nodes, solicited, kOurMac)));
  EXPECT_TRUE(ParseNa(LibtinsAdvertisement(all_nodes, {false, false, true}, kOurMac)));
}

// A packet around a message a writer made: the writer's fixed header, hop limit 255.
Bytes Around(const Ipv6Address& src, const Ipv6Address& dst, std::span<const uint8_t> message) {
  Bytes packet(kIcmp);
  write_ipv6(packet.data(), src, dst, kProtocolIcmpv6, static_cast<uint16_t>(message.size()),
             kNdpHopLimit, 0);
  packet.insert(packet.end(), message.begin(), message.end());
  return packet;
}

TEST(NdpLibtins, WrittenSolicitationsDissectInLibtins) {
  const Ipv6Address target = V6("fe80::ff:fe00:2");
  const MacAddress mac = *MacAddress::parse(kPeerMac);
  // Resolution from a link-local address, and duplicate address detection from ::.
  for (const char* from : {"fe80::1", "::"}) {
    const Ipv6Address src = V6(from);
    const bool dad = src.is_unspecified();
    Bytes message(kMaxNeighbourMessageSize + 8, 0xcc);
    const size_t size =
        write_neighbour_solicitation(message.data(), src, target.solicited_node(), target, mac);
    ASSERT_EQ(size, dad ? kNeighbourMessageSize : kMaxNeighbourMessageSize) << from;
    message.resize(size);
    const Bytes packet = Around(src, target.solicited_node(), message);
    EXPECT_EQ(ReferenceIpv6Sum(packet), 0xffff) << from;

    const Tins::IPv6 dissected(packet.data(), static_cast<uint32_t>(packet.size()));
    EXPECT_EQ(dissected.hop_limit(), 255);
    EXPECT_EQ(dissected.dst_addr().to_string(), "ff02::1:ff00:2");
    const auto& ns = dissected.rfind_pdu<Tins::ICMPv6>();
    EXPECT_EQ(ns.type(), Tins::ICMPv6::NEIGHBOUR_SOLICIT);
    EXPECT_EQ(ns.code(), 0);
    EXPECT_EQ(Ours(ns.target_addr()), target);
    if (dad) {
      EXPECT_EQ(ns.options().size(), 0u);
    } else {
      ASSERT_EQ(ns.options().size(), 1u);
      EXPECT_EQ(Ours(ns.source_link_layer_addr()), mac);
    }
    EXPECT_EQ(Tins::IPv6(dissected).serialize(), packet);  // libtins' own checksum agrees

    auto view = ParseNs(packet);
    ASSERT_TRUE(view) << from;
    EXPECT_EQ(view->target(), target);
    EXPECT_EQ(view->source_link_layer().has_value(), !dad);
  }
}

TEST(NdpLibtins, WrittenAdvertisementsDissectInLibtins) {
  const Ipv6Address ours = V6("fe80::ff:fe00:2");
  const Ipv6Address peer = V6("fe80::1");
  const MacAddress mac = *MacAddress::parse(kOurMac);
  for (int bits = 0; bits < 8; ++bits) {
    const NeighbourAdvertisementFlags flags{(bits & 4) != 0, (bits & 2) != 0, (bits & 1) != 0};
    Bytes message(kMaxNeighbourMessageSize, 0xcc);
    ASSERT_EQ(write_neighbour_advertisement(message.data(), ours, peer, ours, flags, mac),
              kMaxNeighbourMessageSize);
    const Bytes packet = Around(ours, peer, message);
    EXPECT_EQ(ReferenceIpv6Sum(packet), 0xffff);

    const Tins::IPv6 dissected(packet.data(), static_cast<uint32_t>(packet.size()));
    const auto& na = dissected.rfind_pdu<Tins::ICMPv6>();
    EXPECT_EQ(na.type(), Tins::ICMPv6::NEIGHBOUR_ADVERT);
    EXPECT_EQ(na.code(), 0);
    EXPECT_EQ(static_cast<bool>(na.router()), flags.router);
    EXPECT_EQ(static_cast<bool>(na.solicited()), flags.solicited);
    EXPECT_EQ(static_cast<bool>(na.override()), flags.override);
    EXPECT_EQ(Ours(na.target_addr()), ours);
    EXPECT_EQ(Ours(na.target_link_layer_addr()), mac);
    EXPECT_EQ(Tins::IPv6(dissected).serialize(), packet);
    // The reserved bits after the flags are zero (RFC 4861 §4.4), whatever the buffer held.
    EXPECT_EQ(packet[kIcmp + 4] & 0x1f, 0);
    EXPECT_EQ(packet[kIcmp + 5] | packet[kIcmp + 6] | packet[kIcmp + 7], 0);

    auto view = ParseNa(packet);
    ASSERT_TRUE(view) << bits;
    EXPECT_EQ(view->flags(), flags);
    EXPECT_EQ(view->target_link_layer(), mac);
  }
}

TEST(NdpLibtins, SolicitationFrameGoesToTheGroupsMac) {
  // The frame a resolution sends: to 33:33 and the solicited-node group's low 32 bits.
  const Ipv6Address target = V6("2001:db8::1:2345:6789");
  const Ipv6Address group = target.solicited_node();
  const MacAddress mac = *MacAddress::parse(kPeerMac);
  Bytes frame(EthernetView::kSize + kIcmp + kMaxNeighbourMessageSize);
  const Ipv6Address src = V6("2001:db8::1");
  write_ethernet(frame.data(), group.multicast_mac(), mac, kEtherTypeIpv6);
  write_ipv6(frame.data() + EthernetView::kSize, src, group, kProtocolIcmpv6,
             kMaxNeighbourMessageSize, kNdpHopLimit, 0);
  write_neighbour_solicitation(frame.data() + EthernetView::kSize + kIcmp, src, group, target, mac);

  const Tins::EthernetII dissected(frame.data(), static_cast<uint32_t>(frame.size()));
  EXPECT_EQ(dissected.dst_addr().to_string(), "33:33:ff:45:67:89");
  EXPECT_EQ(dissected.payload_type(), 0x86dd);
  const auto& ip = dissected.rfind_pdu<Tins::IPv6>();
  EXPECT_EQ(ip.dst_addr().to_string(), "ff02::1:ff45:6789");
  EXPECT_EQ(Ours(dissected.rfind_pdu<Tins::ICMPv6>().target_addr()), target);
}

}  // namespace
}  // namespace tapstack::header
