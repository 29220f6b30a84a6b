// Addresses between the API and the engine: either family in, RFC 5952 text out, IPv4 peers of
// a dual-stack listener as plain IPv4, and v6_only in the snapshot.
#include <gtest/gtest.h>

#include "server/proto_convert.h"

namespace tapstack::server {
namespace {

IpAddress parsed(const std::string& text) {
  auto a = parse_address("address", text, std::nullopt);
  EXPECT_TRUE(a.is_ok()) << a.status().message;
  return a.is_ok() ? *a : IpAddress{};
}

TEST(ProtoConvertAddress, EitherFamily) {
  EXPECT_TRUE(parsed("198.18.0.2").is_v4());
  EXPECT_EQ(parsed("198.18.0.2").to_string(), "198.18.0.2");
  EXPECT_FALSE(parsed("2001:DB8:0:0::2").is_v4());
  EXPECT_EQ(parsed("2001:DB8:0:0::2").to_string(), "2001:db8::2");
  EXPECT_EQ(parsed("::").to_string(), "::");
  EXPECT_EQ(parsed("0.0.0.0").to_string(), "0.0.0.0");
  // An IPv4-mapped address is the IPv4 address, as a dual-stack socket takes it.
  EXPECT_EQ(parsed("::ffff:198.18.0.2").to_string(), "198.18.0.2");
}

TEST(ProtoConvertAddress, EmptyIsWhatTheFieldSays) {
  auto bind = parse_address("address", "", IpAddress(Ipv4Address{}));
  ASSERT_TRUE(bind.is_ok());
  EXPECT_EQ(bind->to_string(), "0.0.0.0");
  auto connect = parse_address("remote.address", "", std::nullopt);
  EXPECT_EQ(connect.status().code, ErrorCode::kInvalidArgument);
}

TEST(ProtoConvertAddress, MalformedIsInvalidArgument) {
  for (const char* bad : {"[2001:db8::2]", "2001:db8::2%eth0", "2001:db8::2/64", "198.18.0",
                          "198.18.0.2:80", "localhost", "1::2::3"}) {
    auto a = parse_address("remote.address", bad, std::nullopt);
    ASSERT_FALSE(a.is_ok()) << bad;
    EXPECT_EQ(a.status().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(a.status().message,
              "remote.address must be an IPv4 address (198.18.0.2) or an IPv6 one (2001:db8::2, "
              "without brackets), not '" +
                  std::string(bad) + "'");
  }
}

TEST(ProtoConvertAddress, SnapshotPrintsBothFamilies) {
  EndpointInfo info;
  info.id = 7;
  info.state = TcpState::kEstablished;
  info.local_address = *Ipv6Address::parse("2001:db8::2");
  info.local_port = 80;
  info.remote_address = *Ipv6Address::parse("2001:db8:0:0:1:0:0:1");
  info.remote_port = 40000;
  info.connection = ConnectionInfo{};
  v1::Endpoint out;
  to_proto(info, &out);
  EXPECT_EQ(out.local().address(), "2001:db8::2");
  EXPECT_EQ(out.remote().address(), "2001:db8::1:0:0:1");
  EXPECT_FALSE(out.v6_only());

  EndpointInfo listener;
  listener.state = TcpState::kListen;
  listener.local_port = 80;  // "::"
  listener.v6_only = true;
  listener.listener = ListenerInfo{};
  to_proto(listener, &out);
  EXPECT_EQ(out.local().address(), "::");
  EXPECT_TRUE(out.v6_only());

  info.remote_address = *Ipv4Address::parse("198.18.0.1");  // a dual-stack listener's peer
  to_proto(info, &out);
  EXPECT_EQ(out.remote().address(), "198.18.0.1");
}

}  // namespace
}  // namespace tapstack::server
