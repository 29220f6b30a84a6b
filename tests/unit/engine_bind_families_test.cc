// Bindings per family, as Linux's inet_csk_get_port conflicts with IPV6_V6ONLY: 0.0.0.0 takes
// IPv4, :: both families (or IPv6 alone when v6-only), an address its own family; two
// bindings of one port conflict when their families overlap. And connect()'s checks on the
// peer's address and the endpoint's binding, for IPv6 peers.
#include <gtest/gtest.h>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

const IpAddress kAnyV4 = Ipv4Address{};
const IpAddress kAnyV6 = Ipv6Address{};

class EngineBindFamilies : public EngineTest {
 protected:
  EngineBindFamilies() {
    EngineConfig config;
    config.ipv6_addresses = {*Ipv6Subnet::parse("2001:db8::2/64")};
    config.ipv6_dad_transmits = 0;  // usable at once (DAD's own tests are EngineNdp's)
    restart(config);
  }
  Status bind(const IpAddress& address, uint16_t port, bool v6_only = false) {
    return engine().bind(*engine().create_endpoint(), address, port, v6_only);
  }
  Status connect_from(const IpAddress& bound, bool v6_only, const IpAddress& peer) {
    EndpointId id = *engine().create_endpoint();
    EXPECT_TRUE(engine().bind(id, bound, 0, v6_only).is_ok());
    return engine().connect(id, peer, 80);
  }
};

TEST_F(EngineBindFamilies, DualStackExcludesBothFamilies) {
  ASSERT_TRUE(bind(kAnyV6, 80).is_ok());
  EXPECT_EQ(bind(kAnyV4, 80).code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(bind(kAnyV6, 80, true).code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(bind(*IpAddress::parse("198.18.0.2"), 80).code, ErrorCode::kAlreadyExists);
}

TEST_F(EngineBindFamilies, Ipv4AndV6OnlyWildcardsCoexist) {
  ASSERT_TRUE(bind(kAnyV4, 80).is_ok());
  EXPECT_EQ(bind(kAnyV6, 80).code, ErrorCode::kAlreadyExists);  // it would take IPv4 too
  EXPECT_TRUE(bind(kAnyV6, 80, true).is_ok());
  EXPECT_EQ(bind(*IpAddress::parse("2001:db8::2"), 80).code, ErrorCode::kAlreadyExists);
}

TEST_F(EngineBindFamilies, OurAddressesOfEitherFamilyAndNothingElse) {
  EXPECT_TRUE(bind(*IpAddress::parse("2001:db8::2"), 81).is_ok());
  EXPECT_TRUE(bind(IpAddress(engine().config().link_local()), 82).is_ok());
  EXPECT_EQ(bind(*IpAddress::parse("2001:db8::3"), 83).code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bind(*IpAddress::parse("198.18.0.3"), 83).code, ErrorCode::kInvalidArgument);
  // v6-only means nothing for IPv4 (Linux has no IPV6_V6ONLY on an AF_INET socket).
  EXPECT_EQ(bind(kAnyV4, 84, true).code, ErrorCode::kInvalidArgument);
}

TEST_F(EngineBindFamilies, BindingsAreShownWithTheirFamilyAndReleasedPerFamily) {
  EndpointId dual = *engine().create_endpoint();
  ASSERT_TRUE(engine().bind(dual, kAnyV6, 80).is_ok());
  EXPECT_EQ(info(dual).local_address, kAnyV6);
  EXPECT_FALSE(info(dual).v6_only);
  ASSERT_TRUE(engine().close(dual, true).is_ok());
  EndpointId v6 = *engine().create_endpoint();
  ASSERT_TRUE(engine().bind(v6, kAnyV6, 80, true).is_ok());
  EXPECT_TRUE(info(v6).v6_only);
  EXPECT_TRUE(bind(kAnyV4, 80).is_ok());  // the dual-stack binding gave both families back
}

TEST_F(EngineBindFamilies, ConnectChecksThePeerAndTheBindingsFamily) {
  const IpAddress peer6 = *IpAddress::parse("2001:db8::1");
  EXPECT_EQ(connect_from(kAnyV4, false, peer6).code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(connect_from(kAnyV6, true, *IpAddress::parse("198.18.0.1")).code,
            ErrorCode::kInvalidArgument);
  for (const char* not_a_peer : {"::", "ff02::1", "::1", "2001:db8::2"}) {
    EndpointId id = *engine().create_endpoint();
    EXPECT_EQ(engine().connect(id, *IpAddress::parse(not_a_peer), 80).code,
              ErrorCode::kInvalidArgument)
        << not_a_peer;
  }
  // Off the IPv6 subnets with no IPv6 router: no route.
  EndpointId id = *engine().create_endpoint();
  EXPECT_EQ(engine().connect(id, *IpAddress::parse("2001:db8:1::1"), 80).code,
            ErrorCode::kUnavailable);
}

TEST_F(EngineBindFamilies, AStackWithoutIpv6AddressesHasNoIpv6Route) {
  restart(EngineConfig{});
  EndpointId id = *engine().create_endpoint();
  EXPECT_EQ(engine().connect(id, *IpAddress::parse("2001:db8::1"), 80).code,
            ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace tapstack::engine_test
