// ICMP: echo replies under the global rate limit (Linux's icmp_msgs_per_sec / burst), and
// errors quoting our TCP segments as Linux's tcp_v4_err and RFC 5461 treat them: every
// unreachable (but fragmentation needed), time exceeded and parameter problem ends a connect
// in SYN-SENT; the quoted sequence must lie in SND.UNA..SND.NXT; synchronized connections
// count errors and carry on.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>

#include "stack/header/bytes.h"
#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

class EngineIcmp : public EngineTest {
 protected:
  EngineIcmp() {
    peer_.port = 80;
    attach(peer_);
    mark();
  }

  static Bytes echo_request(const Peer& peer, uint16_t id, uint16_t seq, const Bytes& data) {
    Tins::ICMP icmp(Tins::ICMP::ECHO_REQUEST);
    icmp.id(id);
    icmp.sequence(seq);
    return (Tins::EthernetII(kOurMac, peer.mac) / Tins::IP(kOurIp, peer.ip) / icmp /
            Tins::RawPDU(data))
        .serialize();
  }
  // An ICMP error from `from` quoting the IP header and first 8 TCP bytes of `ours` (a frame
  // the engine sent), as a router or the peer's kernel would build it.
  static Bytes icmp_error(const Peer& from, Tins::ICMP::Flags type, uint8_t code,
                          const Bytes& ours) {
    Tins::ICMP icmp(type);
    icmp.code(code);
    Bytes quoted(ours.begin() + 14, ours.begin() + 14 + 20 + 8);
    return (Tins::EthernetII(kOurMac, from.mac) / Tins::IP(kOurIp, from.ip) / icmp /
            Tins::RawPDU(quoted))
        .serialize();
  }
  // connect() to the peer; returns the endpoint and the raw SYN frame.
  std::pair<EndpointId, Bytes> connect_raw() {
    auto id = engine().create_endpoint();
    EXPECT_TRUE(engine().connect(*id, peer_.address(), peer_.port).is_ok());
    auto frames = take_frames();
    EXPECT_EQ(frames.size(), 1u);
    return {*id, frames.empty() ? Bytes(60) : frames.front()};
  }
  const Event* unreachable_event(EndpointId id) const {
    auto it = std::find_if(events_.begin(), events_.end(), [&](const Event& e) {
      return e.kind == Event::Kind::kUnreachable && e.endpoint == id;
    });
    return it == events_.end() ? nullptr : &*it;
  }

  Peer peer_;
};

TEST_F(EngineIcmp, EchoRequestGetsEchoReply) {
  Bytes data = {'p', 'i', 'n', 'g', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  deliver(echo_request(peer_, 0x1234, 7, data));
  auto frames = take_frames();
  ASSERT_EQ(frames.size(), 1u);
  Tins::EthernetII eth(frames[0].data(), static_cast<uint32_t>(frames[0].size()));
  EXPECT_EQ(eth.dst_addr(), peer_.mac);
  const auto& ip = eth.rfind_pdu<Tins::IP>();
  EXPECT_EQ(ip.src_addr(), kOurIp);
  EXPECT_EQ(ip.dst_addr(), peer_.ip);
  const auto& icmp = eth.rfind_pdu<Tins::ICMP>();
  EXPECT_EQ(icmp.type(), Tins::ICMP::ECHO_REPLY);
  EXPECT_EQ(icmp.code(), 0);
  EXPECT_EQ(icmp.id(), 0x1234);
  EXPECT_EQ(icmp.sequence(), 7);
  EXPECT_EQ(eth.rfind_pdu<Tins::RawPDU>().payload(), data);
  // libtins recomputes both checksums on a copy: they must equal what we sent.
  Tins::EthernetII copy = eth;
  Bytes again = copy.serialize();
  Tins::EthernetII reparsed(again.data(), static_cast<uint32_t>(again.size()));
  EXPECT_EQ(reparsed.rfind_pdu<Tins::IP>().checksum(), ip.checksum());
  EXPECT_EQ(reparsed.rfind_pdu<Tins::ICMP>().checksum(), icmp.checksum());
  expect_counters({{"icmp_received", 1}, {"icmp_sent", 1}, {"packets_received", 1}});
}

TEST_F(EngineIcmp, EchoRepliesAreRateLimitedLikeLinux) {
  // 60 requests at one instant: the burst of 50 is answered, the rest counted as limited.
  for (uint16_t seq = 0; seq < 60; ++seq) deliver(echo_request(peer_, 1, seq, {1, 2, 3}));
  EXPECT_EQ(take_frames().size(), 50u);
  expect_counters({{"icmp_received", 60}, {"icmp_sent", 50}, {"drop.icmp_rate_limited", 10}});
  // The bucket refills at 1000 per second: one more after 1 ms, a full burst after 50 ms.
  advance_by(milliseconds(1));
  deliver(echo_request(peer_, 1, 60, {}));
  deliver(echo_request(peer_, 1, 61, {}));
  EXPECT_EQ(take_frames().size(), 1u);
  advance_by(seconds(10));
  for (uint16_t seq = 0; seq < 60; ++seq) deliver(echo_request(peer_, 2, seq, {}));
  EXPECT_EQ(take_frames().size(), 50u);
}

TEST_F(EngineIcmp, BadChecksumAndUnknownTypesAreDroppedAndCounted) {
  Bytes bad = echo_request(peer_, 1, 1, {1, 2, 3, 4});
  bad[14 + 20 + 8] ^= 0xff;  // the first data byte (the frame is padded to 60 bytes)
  deliver(bad);
  Tins::ICMP timestamp(Tins::ICMP::TIMESTAMP_REQUEST);
  deliver(
      (Tins::EthernetII(kOurMac, peer_.mac) / Tins::IP(kOurIp, peer_.ip) / timestamp).serialize());
  expect_nothing_sent();
  expect_counters({{"drop.bad_icmp", 1}, {"icmp_received", 1}, {"drop.icmp_ignored", 1}});
}

TEST_F(EngineIcmp, PortUnreachableEndsConnectAtOnce) {
  auto [id, syn] = connect_raw();
  mark();
  deliver(icmp_error(peer_, Tins::ICMP::DEST_UNREACHABLE, 3, syn));
  const Event* e = unreachable_event(id);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->reason, "port unreachable (ICMP)");
  EXPECT_EQ(state_of(id), TcpState::kClosed);
  expect_counters({{"icmp_received", 1},
                   {"unreachable_aborts", 1},
                   {"attempt_fails", 1},
                   {"connections_closed", 1}});
  advance_by(seconds(200));
  expect_nothing_sent();  // no SYN retransmission follows
}

TEST_F(EngineIcmp, SoftErrorsEndConnectInSynSentToo) {
  // Linux's tcp_v4_err ends SYN-SENT on every error it converts, RFC 5461's "soft" network
  // and host unreachable, time exceeded and parameter problem included.
  struct Case {
    Tins::ICMP::Flags type;
    uint8_t code;
    const char* reason;
  };
  for (const Case& c :
       {Case{Tins::ICMP::DEST_UNREACHABLE, 0, "network unreachable (ICMP)"},
        Case{Tins::ICMP::DEST_UNREACHABLE, 1, "host unreachable (ICMP)"},
        Case{Tins::ICMP::DEST_UNREACHABLE, 13, "communication administratively prohibited (ICMP)"},
        Case{Tins::ICMP::TIME_EXCEEDED, 0, "time exceeded in transit (ICMP)"},
        Case{Tins::ICMP::PARAM_PROBLEM, 0, "parameter problem (ICMP)"}}) {
    SCOPED_TRACE(c.reason);
    auto [id, syn] = connect_raw();
    deliver(icmp_error(peer_, c.type, c.code, syn));
    const Event* e = unreachable_event(id);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->reason, c.reason);
    EXPECT_EQ(state_of(id), TcpState::kClosed);
  }
}

TEST_F(EngineIcmp, FragmentationNeededDoesNotEndConnect) {
  auto [id, syn] = connect_raw();
  mark();
  deliver(icmp_error(peer_, Tins::ICMP::DEST_UNREACHABLE, 4, syn));
  EXPECT_EQ(state_of(id), TcpState::kSynSent);
  expect_counters({{"icmp_received", 1}, {"drop.icmp_ignored", 1}});
}

TEST_F(EngineIcmp, ErrorQuotingASequenceWeDidNotSendIsIgnored) {
  auto [id, syn] = connect_raw();
  mark();
  // A blind attacker knows the ports but not our ISN: quote ISN + 2 (SND.NXT is ISN + 1).
  Bytes forged = syn;
  uint32_t isn = header::load32(forged.data() + 14 + 20 + 4);
  header::store32(forged.data() + 14 + 20 + 4, isn + 2);
  deliver(icmp_error(peer_, Tins::ICMP::DEST_UNREACHABLE, 3, forged));
  EXPECT_EQ(state_of(id), TcpState::kSynSent);
  expect_counters({{"icmp_received", 1}, {"drop.icmp_out_of_window", 1}});
}

TEST_F(EngineIcmp, ErrorForNoConnectionOfOursIsCounted) {
  auto [id, syn] = connect_raw();
  mark();
  Bytes other_port = syn;
  other_port[14 + 20] ^= 0x01;  // the quoted source port
  deliver(icmp_error(peer_, Tins::ICMP::DEST_UNREACHABLE, 3, other_port));
  EXPECT_EQ(state_of(id), TcpState::kSynSent);
  expect_counters({{"icmp_received", 1}, {"drop.icmp_unmatched", 1}});
}

TEST_F(EngineIcmp, SynchronizedConnectionCountsErrorsAsSoft) {
  auto [id, our_syn] = open_active(peer_);
  // A segment of ours at SND.UNA = SND.NXT = ISN + 1: the peer's view of the tuple with
  // addresses and ports swapped.
  Bytes quoted = tcp_frame(peer_, our_syn.source_port, {});
  std::swap_ranges(quoted.begin() + 14 + 12, quoted.begin() + 14 + 16, quoted.begin() + 14 + 16);
  std::swap_ranges(quoted.begin() + 14 + 20, quoted.begin() + 14 + 22, quoted.begin() + 14 + 22);
  header::store32(quoted.data() + 14 + 20 + 4, our_syn.seq + 1);
  mark();
  deliver(icmp_error(peer_, Tins::ICMP::DEST_UNREACHABLE, 3, quoted));
  EXPECT_EQ(state_of(id), TcpState::kEstablished);
  EXPECT_EQ(unreachable_event(id), nullptr);
  expect_counters({{"icmp_received", 1}, {"icmp_soft_errors", 1}});
}

}  // namespace
}  // namespace tapstack::engine_test
