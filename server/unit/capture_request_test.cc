// A Capture request into the engine's filter: what is refused (INVALID_ARGUMENT, listeners that
// are not listening) and what each field becomes.
#include "server/capture_request.h"

#include <gtest/gtest.h>

namespace tapstack::server {
namespace {

ErrorCode code_of(const v1::CaptureRequest& r) {
  return parse_capture_request(r).status().code;
}

TEST(CaptureRequest, DefaultsTakeEverything) {
  auto o = parse_capture_request({});
  ASSERT_TRUE(o.is_ok());
  EXPECT_FALSE(o->filter.tcp_only());
  EXPECT_EQ(o->count, 0u);
  EXPECT_EQ(o->duration, Duration::zero());
  EXPECT_EQ(o->ring_bytes, kDefaultCaptureRingBytes);
}

TEST(CaptureRequest, FieldsBecomeTheFilter) {
  v1::CaptureRequest r;
  r.set_port(80);
  r.set_peer("198.18.0.0/24");
  r.set_mode(v1::CAPTURE_MODE_HANDSHAKE);
  r.set_count(10);
  r.mutable_duration()->set_seconds(3);
  r.set_ring_bytes(65536);
  auto o = parse_capture_request(r);
  ASSERT_TRUE(o.is_ok()) << o.status().message;
  EXPECT_EQ(o->filter.local_port, 80);
  ASSERT_TRUE(o->filter.peer);
  EXPECT_EQ(o->filter.peer->length, 24);
  EXPECT_TRUE(o->filter.handshake_only);
  EXPECT_EQ(o->count, 10u);
  EXPECT_EQ(o->duration, seconds(3));
  EXPECT_EQ(o->ring_bytes, 65536u);

  v1::CaptureRequest t;
  t.mutable_tuple()->set_local_address("2001:db8::2");
  t.mutable_tuple()->set_local_port(80);
  t.mutable_tuple()->set_remote_address("2001:db8::1");
  t.mutable_tuple()->set_remote_port(40000);
  auto tuple = parse_capture_request(t);
  ASSERT_TRUE(tuple.is_ok()) << tuple.status().message;
  EXPECT_EQ(tuple->filter.local_address, IpAddress::parse("2001:db8::2"));
  EXPECT_EQ(tuple->filter.peer_port, 40000);
  EXPECT_EQ(tuple->filter.peer->length, 128);

  v1::CaptureRequest host;
  host.set_peer("198.18.0.1");
  auto h = parse_capture_request(host);
  ASSERT_TRUE(h.is_ok()) << h.status().message;
  EXPECT_EQ(h->filter.peer->length, 32);
  EXPECT_TRUE(h->filter.peer->contains(*IpAddress::parse("198.18.0.1")));
  EXPECT_FALSE(h->filter.peer->contains(*IpAddress::parse("198.18.0.3")));
}

TEST(CaptureRequest, MistakesAreInvalidArguments) {
  v1::CaptureRequest r;
  r.set_listener_id(3);
  r.set_port(80);
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
  r = {};
  r.set_port(70000);
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
  r = {};
  r.set_peer("198.18.0.1/15");
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
  r = {};
  r.set_count(kMaxCaptureCount + 1);
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
  r = {};
  r.mutable_duration()->set_seconds(-1);
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
  r = {};
  r.mutable_duration()->set_seconds(25 * 3600);
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
  r = {};
  // Seconds whose nanoseconds overflow int64 (and would wrap into range if converted first).
  r.mutable_duration()->set_seconds(9'223'372'037);
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
  r = {};
  r.mutable_duration()->set_nanos(-5);
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
  r = {};
  r.set_ring_bytes(1000);
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
  r = {};
  r.mutable_tuple()->set_local_address("198.18.0.2");
  r.mutable_tuple()->set_local_port(80);
  r.mutable_tuple()->set_remote_address("2001:db8::1");
  r.mutable_tuple()->set_remote_port(1);
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
  r.mutable_tuple()->set_remote_address("198.18.0.1");
  r.mutable_tuple()->set_remote_port(0);
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
  r.mutable_tuple()->set_remote_port(1);
  EXPECT_EQ(code_of(r), ErrorCode::kOk);
  r.set_port(80);
  EXPECT_EQ(code_of(r), ErrorCode::kInvalidArgument);
}

TEST(CaptureRequest, AListenersBindingNarrowsTheFilter) {
  EndpointInfo info;
  info.id = 7;
  info.local_port = 80;
  capture::FilterSpec none;
  EXPECT_EQ(narrow_to_listener(info, none).code, ErrorCode::kFailedPrecondition);

  info.listener = ListenerInfo{};
  capture::FilterSpec dual;
  ASSERT_TRUE(narrow_to_listener(info, dual).is_ok());  // [::], both families
  EXPECT_EQ(dual.local_port, 80);
  EXPECT_FALSE(dual.family);
  EXPECT_FALSE(dual.local_address);

  info.local_address = Ipv4Address{};
  capture::FilterSpec v4;
  ASSERT_TRUE(narrow_to_listener(info, v4).is_ok());
  EXPECT_EQ(v4.family, IpFamily::kIpv4);

  info.local_address = *IpAddress::parse("198.18.0.2");
  capture::FilterSpec one;
  ASSERT_TRUE(narrow_to_listener(info, one).is_ok());
  EXPECT_EQ(one.local_address, IpAddress::parse("198.18.0.2"));
}

}  // namespace
}  // namespace tapstack::server
