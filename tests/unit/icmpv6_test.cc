// ICMPv6 (RFC 4443): the checksum under the IPv6 pseudo-header, the view over messages libtins
// builds, the writers' messages dissected by libtins, and what the error views give a later
// stage: the MTU of Packet Too Big and the invoking packet, whole or cut short.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdint>
#include <random>
#include <span>
#include <variant>
#include <vector>

#include "stack/header/checksum.h"
#include "stack/header/icmpv6.h"
#include "stack/header/ipv6.h"
#include "stack/header/ipv6_address.h"
#include "tests/unit/libtins_addresses.h"
#include "tests/unit/reference_checksum.h"

namespace tapstack::header {
namespace {

using Bytes = std::vector<uint8_t>;
using header_test::Ours;
using header_test::ReferenceIpv6Sum;
using header_test::ReferenceSum;

constexpr size_t kIcmp = Ipv6View::kHeaderSize;  // where the message starts in these packets

Bytes LibtinsPacket(Tins::ICMPv6 icmp, const Bytes& data, const char* src = "2001:db8::1",
                    const char* dst = "2001:db8::2") {
  Tins::IPv6 packet = Tins::IPv6(dst, src) / icmp;
  if (!data.empty()) packet /= Tins::RawPDU(data);
  return packet.serialize();
}

Bytes LibtinsEcho(uint16_t identifier, uint16_t sequence, const Bytes& data) {
  Tins::ICMPv6 echo(Tins::ICMPv6::ECHO_REQUEST);
  echo.identifier(identifier);
  echo.sequence(sequence);
  return LibtinsPacket(echo, data);
}

// The packet's IPv6 view and its ICMPv6 message, which follows the fixed header here.
std::pair<Ipv6View, Icmpv6View> Views(const Bytes& packet) {
  auto ip = Ipv6View::parse(packet);
  EXPECT_TRUE(ip);
  EXPECT_EQ(ip->next_header(), kProtocolIcmpv6);
  auto icmp = Icmpv6View::parse(ip->payload());
  EXPECT_TRUE(icmp);
  return {ip.value(), icmp.value()};
}

TEST(Icmpv6, PseudoHeaderMatchesExplicitBytes) {
  std::mt19937 rng(81);
  for (int i = 0; i < 1000; ++i) {
    Bytes pseudo(40, 0);
    for (size_t b = 0; b < 32; ++b) pseudo[b] = static_cast<uint8_t>(rng());
    const auto length = static_cast<uint32_t>(rng());
    const auto next_header = static_cast<uint8_t>(rng());
    for (int b = 0; b < 4; ++b) pseudo[32 + b] = static_cast<uint8_t>(length >> (24 - 8 * b));
    pseudo[39] = next_header;
    const uint64_t sum =
        pseudo_header_sum(Ipv6Address::from(pseudo.data()), Ipv6Address::from(pseudo.data() + 16),
                          next_header, length);
    ASSERT_EQ(checksum_finish(sum), static_cast<uint16_t>(~ReferenceSum(pseudo)));
  }
}

TEST(Icmpv6, ParseNeedsTheEightByteHeader) {
  const Bytes message(8, 0);
  for (size_t n = 0; n < 8; ++n) EXPECT_FALSE(Icmpv6View::parse(std::span(message).first(n)));
  EXPECT_TRUE(Icmpv6View::parse(message));
}

TEST(Icmpv6Libtins, ViewReadsLibtinsEchoRequests) {
  std::mt19937 rng(4443);
  for (int i = 0; i < 300; ++i) {
    const auto identifier = static_cast<uint16_t>(rng());
    const auto sequence = static_cast<uint16_t>(rng());
    Bytes data(rng() % 200);  // odd and even lengths: the padded tail word
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const Bytes packet = LibtinsEcho(identifier, sequence, data);
    SCOPED_TRACE(i);
    ASSERT_EQ(ReferenceIpv6Sum(packet), 0xffff);

    const auto [ip, icmp] = Views(packet);
    const Tins::IPv6 dissected(packet.data(), static_cast<uint32_t>(packet.size()));
    EXPECT_EQ(icmp.type(), icmpv6_type::kEchoRequest);
    EXPECT_EQ(icmp.code(), 0);
    EXPECT_FALSE(icmp.is_error());
    EXPECT_EQ(icmp.checksum(), dissected.rfind_pdu<Tins::ICMPv6>().checksum());
    EXPECT_TRUE(icmp.checksum_ok(ip.source(), ip.destination()));
    EXPECT_EQ(icmp.rest_of_header(), uint32_t{identifier} << 16 | sequence);
    EXPECT_EQ(Bytes(icmp.body().begin(), icmp.body().end()), data);
    if (HasFailure()) return;
  }
}

TEST(Icmpv6Libtins, ChecksumFailsAfterAnyByteFlipOrOtherAddresses) {
  const Bytes packet = LibtinsEcho(7, 9, {1, 2, 3, 4, 5});
  for (size_t at = kIcmp; at < packet.size(); ++at) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      Bytes bad = packet;
      bad[at] ^= mask;
      const auto [ip, icmp] = Views(bad);
      EXPECT_FALSE(icmp.checksum_ok(ip.source(), ip.destination())) << at << "/" << int{mask};
    }
  }
  // The pseudo-header is covered: the right message under other addresses does not pass.
  const auto [ip, icmp] = Views(packet);
  Ipv6Address other = ip.destination();
  other.bytes[15] ^= 1;
  EXPECT_FALSE(icmp.checksum_ok(ip.source(), other));
  EXPECT_FALSE(icmp.checksum_ok(other, ip.destination()));
  EXPECT_TRUE(icmp.checksum_ok(ip.source(), ip.destination()));
}

// A packet around a message the writers made: the writer's fixed header, then the message.
Bytes Around(const Ipv6Address& src, const Ipv6Address& dst, std::span<const uint8_t> message) {
  Bytes packet(kIcmp);
  write_ipv6(packet.data(), src, dst, kProtocolIcmpv6, static_cast<uint16_t>(message.size()), 64,
             0);
  packet.insert(packet.end(), message.begin(), message.end());
  return packet;
}

TEST(Icmpv6Libtins, EchoReplyDissectsInLibtins) {
  std::mt19937 rng(129);
  for (int i = 0; i < 200; ++i) {
    const auto identifier = static_cast<uint16_t>(rng());
    const auto sequence = static_cast<uint16_t>(rng());
    Bytes data(rng() % 200);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const Bytes request = LibtinsEcho(identifier, sequence, data);
    const auto [ip, icmp] = Views(request);
    SCOPED_TRACE(i);

    // Into a reused buffer, and over the request itself.
    Bytes reply(icmp.bytes().size() + 16, 0xcc);
    const size_t size = write_icmpv6_echo_reply(reply.data(), ip.destination(), ip.source(), icmp);
    ASSERT_EQ(size, icmp.bytes().size());
    reply.resize(size);
    Bytes in_place = request;
    const auto [ip2, icmp2] = Views(in_place);
    ASSERT_EQ(
        write_icmpv6_echo_reply(in_place.data() + kIcmp, ip.destination(), ip.source(), icmp2),
        size);
    EXPECT_EQ(Bytes(in_place.begin() + kIcmp, in_place.end()), reply);

    const Bytes packet = Around(ip.destination(), ip.source(), reply);
    EXPECT_EQ(ReferenceIpv6Sum(packet), 0xffff);
    const Tins::IPv6 dissected(packet.data(), static_cast<uint32_t>(packet.size()));
    EXPECT_EQ(Ours(dissected.src_addr()), ip.destination());
    EXPECT_EQ(Ours(dissected.dst_addr()), ip.source());
    const auto& echo = dissected.rfind_pdu<Tins::ICMPv6>();
    EXPECT_EQ(echo.type(), Tins::ICMPv6::ECHO_REPLY);
    EXPECT_EQ(echo.code(), 0);
    EXPECT_EQ(echo.identifier(), identifier);
    EXPECT_EQ(echo.sequence(), sequence);
    const auto* raw = dissected.find_pdu<Tins::RawPDU>();
    if (data.empty()) {
      EXPECT_EQ(raw, nullptr);
    } else {
      ASSERT_NE(raw, nullptr);
      EXPECT_EQ(raw->payload(), data);
    }
    // libtins computes its own checksum when it writes the packet again: the same bytes.
    EXPECT_EQ(Tins::IPv6(dissected).serialize(), packet);
    if (HasFailure()) return;
  }
}

TEST(Icmpv6Libtins, WrittenErrorDissectsInLibtins) {
  // A Parameter Problem (code 1, unrecognized Next Header) pointing into a quoted packet.
  const Ipv6Address src = *Ipv6Address::parse("2001:db8::2");
  const Ipv6Address dst = *Ipv6Address::parse("2001:db8::1");
  const Bytes quoted = LibtinsEcho(1, 2, Bytes(33, 0x77));
  Bytes message(Icmpv6View::kHeaderSize + quoted.size());
  write_icmpv6(message.data(), src, dst, icmpv6_type::kParameterProblem, 1, 6, quoted);
  const Bytes packet = Around(src, dst, message);
  EXPECT_EQ(ReferenceIpv6Sum(packet), 0xffff);
  const Tins::IPv6 dissected(packet.data(), static_cast<uint32_t>(packet.size()));
  const auto& error = dissected.rfind_pdu<Tins::ICMPv6>();
  EXPECT_EQ(error.type(), Tins::ICMPv6::PARAM_PROBLEM);
  EXPECT_EQ(error.code(), 1);
  EXPECT_EQ(uint32_t{error.identifier()} << 16 | error.sequence(), 6u);
  EXPECT_EQ(dissected.rfind_pdu<Tins::RawPDU>().payload(), quoted);
}

// An error from libtins about `invoking`: a type, a code and the 32-bit field as identifier and
// sequence.
Bytes LibtinsError(Tins::ICMPv6::Types type, uint8_t code, uint32_t field, const Bytes& invoking) {
  Tins::ICMPv6 error(type);
  error.code(code);
  error.identifier(static_cast<uint16_t>(field >> 16));
  error.sequence(static_cast<uint16_t>(field));
  return LibtinsPacket(error, invoking, "2001:db8::ff", "2001:db8::1");
}

TEST(Icmpv6Libtins, ErrorsGiveTheMtuAndTheInvokingPacket) {
  // The packet we sent: TCP from port 40000 to 443 with 8 bytes of data (68 bytes in all).
  Tins::IPv6 sent("2001:db8::9", "2001:db8::1");
  Tins::TCP tcp(443, 40000);
  tcp.seq(0x01020304);
  const Bytes invoking = (sent / tcp / Tins::RawPDU(Bytes(8, 0x33))).serialize();

  struct Case {
    Tins::ICMPv6::Types type;
    uint8_t code;
    uint32_t field;
    size_t quoted;  // how much of the invoking packet the error carries
  };
  const Case cases[] = {
      {Tins::ICMPv6::DEST_UNREACHABLE, 4, 0, invoking.size()},  // port unreachable
      {Tins::ICMPv6::PACKET_TOOBIG, 0, 1280, invoking.size()},
      {Tins::ICMPv6::PACKET_TOOBIG, 0, 0x00012345, 48},  // cut after 8 bytes of TCP
      {Tins::ICMPv6::TIME_EXCEEDED, 0, 0, 40},           // the IPv6 header alone
  };
  for (const Case& c : cases) {
    const Bytes quote(invoking.begin(), invoking.begin() + static_cast<ptrdiff_t>(c.quoted));
    const Bytes packet = LibtinsError(c.type, c.code, c.field, quote);
    SCOPED_TRACE(int{c.type});
    const auto [ip, icmp] = Views(packet);
    EXPECT_TRUE(icmp.checksum_ok(ip.source(), ip.destination()));
    EXPECT_TRUE(icmp.is_error());
    EXPECT_EQ(icmp.type(), c.type);
    EXPECT_EQ(icmp.code(), c.code);
    if (c.type == Tins::ICMPv6::PACKET_TOOBIG) {
      EXPECT_EQ(icmp.mtu(), c.field);
    }

    auto quoted = icmp.invoking_packet();
    ASSERT_TRUE(quoted);
    EXPECT_EQ(quoted->source().to_string(), "2001:db8::1");
    EXPECT_EQ(quoted->destination().to_string(), "2001:db8::9");
    EXPECT_EQ(quoted->payload_length(), invoking.size() - 40);
    EXPECT_EQ(quoted->payload().size(), c.quoted - 40);
    const auto upper = std::get<Ipv6UpperLayer>(quoted->find_upper_layer());
    EXPECT_EQ(upper.protocol, 6);
    if (upper.payload.size() >= 8) {
      EXPECT_EQ(load16(upper.payload.data()), 40000);
      EXPECT_EQ(load16(upper.payload.data() + 2), 443);
      EXPECT_EQ(load32(upper.payload.data() + 4), 0x01020304u);
    }
  }

  // A body that is no IPv6 packet: too short, or another version.
  Bytes short_quote(invoking.begin(), invoking.begin() + 39);
  EXPECT_FALSE(Views(LibtinsError(Tins::ICMPv6::DEST_UNREACHABLE, 0, 0, short_quote))
                   .second.invoking_packet());
  Bytes ipv4 = invoking;
  ipv4[0] = 0x45;
  EXPECT_FALSE(
      Views(LibtinsError(Tins::ICMPv6::DEST_UNREACHABLE, 0, 0, ipv4)).second.invoking_packet());
}

}  // namespace
}  // namespace tapstack::header
