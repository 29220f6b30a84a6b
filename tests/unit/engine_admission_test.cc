// A listener's admission policy in the engine (Engine::set_admission, tcp_admission.cc): the
// lists answered with RST or silence, the SYN rate over simulated time, the caps counting what
// the listener holds until it ends, cookie handshakes, the per-source table's bound, and
// changes of policy and listener at run time. Both families: the peers sit off-link behind a
// router (198.19.0.0/16, 2001:db8::198.19.0.0/112), so that they can be in different /24s
// (IPv6: /120s, the policies' source prefix here).
#include <gtest/gtest.h>

#include "stack/tcp/admission_policy.h"
#include "tests/unit/cookie_path_memory.h"
#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

using tcp::AdmissionPolicy;
using tcp::AdmissionReason;
using tcp::Refusal;

constexpr uint16_t kPort = 80;
constexpr uint32_t kIrs = 1000;

class EngineAdmission : public EngineFamilyTest {
 protected:
  EngineAdmission() {
    // The router is 198.18.0.1 (a permanent neighbour) or 2001:db8::1, found by NDP.
    EngineConfig config;
    config.gateway = *Ipv4Address::parse("198.18.0.1");
    config.gateway_mac = *MacAddress::parse("02:00:00:00:00:01");
    if (GetParam() == IpFamily::kIpv6) {
      config.ipv6_addresses = {*Ipv6Subnet::parse("2001:db8::2/120")};
      config.ipv6_gateway = *Ipv6Address::parse("2001:db8::1");
      config.ipv6_dad_transmits = 0;
    }
    restart(config);
    if (GetParam() == IpFamily::kIpv6) attach(Peer{.ip = Tins::IPv4Address("0.0.0.1")});
    listener_ = listen(kPort, 64);
  }

  // A peer at `v4` (over IPv6, 2001:db8::`v4`).
  static Peer at(const std::string& v4, uint16_t port = 40000) {
    return Peer{.ip = Tins::IPv4Address(v4), .port = port};
  }
  // "a.b.c.d/n" in the test's family: over IPv6, 2001:db8::a.b.c.d/(96 + n).
  static tcp::IpPrefix prefix(const std::string& v4) {
    tcp::IpPrefix p = *tcp::IpPrefix::parse(v4);
    if (current_family == IpFamily::kIpv4) return p;
    const uint8_t length = static_cast<uint8_t>(96 + p.length);
    return {*IpAddress::parse("2001:db8::" + p.address.to_string()), length};
  }
  // Source prefixes of 24 bits of the peers' IPv4 part in either family.
  static AdmissionPolicy policy() {
    AdmissionPolicy p;
    p.ipv6_source_prefix = 120;
    return p;
  }
  // Source prefixes of one address.
  static AdmissionPolicy per_address_policy() {
    AdmissionPolicy p;
    p.ipv4_source_prefix = 32;
    p.ipv6_source_prefix = 128;
    return p;
  }
  void set(std::optional<AdmissionPolicy> p, EndpointId listener = 0) {
    Status s = engine().set_admission(listener ? listener : listener_, std::move(p));
    ASSERT_TRUE(s.is_ok()) << s.message;
  }
  void set_syncookies(tcp::SynCookieMode mode) {
    TunableConfig t = engine().tunable();
    t.syncookies = mode;
    engine().update_tunable(t);
  }
  tcp::AdmissionCounters counters(EndpointId listener = 0) {
    return listener_info(listener ? listener : listener_).admission_counters;
  }
  uint64_t refused(AdmissionReason reason, EndpointId listener = 0) {
    return counters(listener).refused[static_cast<size_t>(reason)];
  }
  // The peer's SYN is answered with a SYN-ACK.
  void expect_answered(const Peer& p, uint32_t irs = kIrs) {
    SentSegment s = syn(p, kPort, linux_syn(irs));
    EXPECT_EQ(flags_string(s.flags), flags_string(kSyn | kAck)) << p.ip_text() << ":" << p.port;
  }
  // The peer's SYN is refused with RST|ACK <SEQ=0><ACK=SYN+1>.
  void expect_reset_to_syn(const Peer& p, uint32_t irs = kIrs) {
    send(p, kPort, linux_syn(irs));
    expect_reset(take_segment(), p, kPort, kRst | kAck, 0, irs + 1);
  }
  void expect_silence_to_syn(const Peer& p, uint32_t irs = kIrs) {
    send(p, kPort, linux_syn(irs));
    expect_nothing_sent();
  }
  // A connection from `p`, accepted.
  EndpointId connect_from(const Peer& p) { return open_passive(listener_, kPort, p, kIrs).first; }
  // The peer resets the connection it made with open_passive.
  void peer_resets(const Peer& p) { send(p, kPort, SegmentSpec{.flags = kRst, .seq = kIrs + 1}); }

  // We close a connection open_passive made: returns our FIN.
  SentSegment close_first(EndpointId id) {
    EXPECT_TRUE(engine().close(id, false).is_ok());
    SentSegment fin = take_segment();
    EXPECT_EQ(flags_string(fin.flags), flags_string(kFin | kAck));
    return fin;
  }
  // The peer acknowledges our FIN with its own: the connection enters TIME-WAIT.
  void peer_finishes(const Peer& p, const SentSegment& fin) {
    send(p, kPort,
         SegmentSpec{.flags = kFin | kAck,
                     .seq = kIrs + 1,
                     .ack = fin.seq + 1,
                     .timestamp = Timestamp{7000, fin.timestamp ? fin.timestamp->value : 0}});
    take_frames();
  }

  EndpointId listener_ = 0;
};

TEST_P(EngineAdmission, DeniedSourceIsResetAndOthersAreAnswered) {
  AdmissionPolicy p = policy();
  p.deny = {prefix("198.19.9.0/24")};
  set(p);
  expect_reset_to_syn(at("198.19.9.7"));
  EXPECT_EQ(engine().half_open_count(), 0u);
  expect_answered(at("198.19.1.1"));
  EXPECT_EQ(engine().half_open_count(), 1u);
  EXPECT_EQ(counters().admitted, 1u);
  EXPECT_EQ(refused(AdmissionReason::kDenied), 1u);
  EXPECT_EQ(dropped(DropReason::admission_denied), 1u);
  EXPECT_EQ(stats().syns_received.get(), 2u);
  EXPECT_EQ(stats().resets_sent.get(), 1u);
}

TEST_P(EngineAdmission, SourceOutsideTheAllowListGetsSilence) {
  AdmissionPolicy p = policy();
  p.allow = {prefix("198.19.1.0/24")};
  p.list_refusal = Refusal::kSilence;
  set(p);
  expect_silence_to_syn(at("198.19.2.1"));
  expect_silence_to_syn(at("198.19.2.1"));  // its retransmission too
  expect_answered(at("198.19.1.77"));
  EXPECT_EQ(refused(AdmissionReason::kNotAllowed), 2u);
  EXPECT_EQ(dropped(DropReason::admission_not_allowed), 2u);
  EXPECT_EQ(stats().resets_sent.get(), 0u);
}

TEST_P(EngineAdmission, SynRateHoldsOverTenSimulatedSeconds) {
  set_syncookies(tcp::SynCookieMode::kAlways);  // one SYN-ACK per admitted SYN, no records
  AdmissionPolicy p = policy();
  p.syn_rate = AdmissionPolicy::SynRate{.per_second = 50, .burst = 10};
  set(p);
  // 500 SYNs a second for 10 s from addresses of one /24.
  size_t synacks = 0;
  for (uint32_t i = 0; i < 5000; ++i) {
    Peer client = at("198.19.1." + std::to_string(i % 250 + 1), static_cast<uint16_t>(10000 + i));
    send(client, kPort, linux_syn(kIrs + i));
    for (const SentSegment& s : take_segments()) synacks += s.flags == (kSyn | kAck);
    advance_by(milliseconds(2));
  }
  EXPECT_NEAR(static_cast<double>(synacks), 510.0, 510 * 0.01);  // the burst, then 50 a second
  EXPECT_EQ(counters().admitted, synacks);
  EXPECT_EQ(refused(AdmissionReason::kRateLimited), 5000 - synacks);
  EXPECT_EQ(counters().sources, 1u);
}

TEST_P(EngineAdmission, SourcesInOnePrefixShareABucketAndOthersHaveTheirOwn) {
  AdmissionPolicy p = policy();
  p.syn_rate = AdmissionPolicy::SynRate{.per_second = 1, .burst = 2};
  set(p);
  expect_answered(at("198.19.1.1"));
  expect_answered(at("198.19.1.2"));
  expect_silence_to_syn(at("198.19.1.3"));  // the same /24: the bucket is empty
  expect_answered(at("198.19.2.1"));        // another /24
  advance_by(seconds(1));
  take_frames();                      // the SYN-ACKs again
  expect_answered(at("198.19.1.3"));  // a token back
  EXPECT_EQ(refused(AdmissionReason::kRateLimited), 1u);
  EXPECT_EQ(counters().sources, 2u);
}

TEST_P(EngineAdmission, HalfOpenCapRefusesUntilAHandshakeEnds) {
  AdmissionPolicy p = policy();
  p.max_half_open = 2;
  set(p);
  const Peer first = at("198.19.1.1", 1001);
  SentSegment synack = syn(first, kPort, linux_syn(kIrs));
  expect_answered(at("198.19.1.2", 1002));
  expect_reset_to_syn(at("198.19.1.3", 1003));
  expect_answered(at("198.19.2.1", 1004));  // another prefix
  // The first handshake completes: its record is gone, and the prefix has room again.
  send(first, kPort, final_ack(synack));
  expect_nothing_sent();
  expect_answered(at("198.19.1.3", 1003), kIrs + 7);
  // A record that times out gives its place back too.
  for (int i = 0; i < 70; ++i) advance_by(seconds(1));
  take_frames();  // the SYN-ACK retransmissions
  EXPECT_EQ(engine().half_open_count(), 0u);
  expect_answered(at("198.19.1.4", 1005));
  expect_answered(at("198.19.1.5", 1006));
  EXPECT_EQ(refused(AdmissionReason::kHalfOpenCap), 1u);
  EXPECT_EQ(dropped(DropReason::admission_half_open_cap), 1u);
}

TEST_P(EngineAdmission, ConnectionCapCountsDownOnResetAbortAndTimeWait) {
  AdmissionPolicy p = policy();
  p.max_connections = 2;
  set(p);
  const Peer a = at("198.19.1.1", 1001);
  const Peer b = at("198.19.1.2", 1002);
  connect_from(a);
  auto [id_b, synack_b] = open_passive(listener_, kPort, b, kIrs);
  expect_reset_to_syn(at("198.19.1.3", 1003));
  EXPECT_EQ(refused(AdmissionReason::kConnectionCap), 1u);

  peer_resets(a);  // the connection ends: its place is free
  const Peer c = at("198.19.1.3", 1003);
  EndpointId id_c = connect_from(c);
  expect_reset_to_syn(at("198.19.1.4", 1004));

  ASSERT_TRUE(engine().close(id_c, true).is_ok());  // abort
  take_frames();
  EndpointId id_d = connect_from(at("198.19.1.4", 1004));
  expect_reset_to_syn(at("198.19.1.5", 1005));

  // We close first: the connection is counted until it enters TIME-WAIT.
  SentSegment fin = close_first(id_b);
  expect_reset_to_syn(at("198.19.1.5", 1005));  // FIN-WAIT-1 still holds it
  peer_finishes(b, fin);
  EXPECT_EQ(engine().time_wait_count(), 1u);
  expect_answered(at("198.19.1.5", 1005));
  EXPECT_EQ(refused(AdmissionReason::kConnectionCap), 4u);
  (void)id_d;
}

TEST_P(EngineAdmission, RefusedSynLeavesTheTimeWaitRecordItWouldHaveTakenOver) {
  const Peer a = at("198.19.1.1", 1001);
  EndpointId id = connect_from(a);
  peer_finishes(a, close_first(id));
  ASSERT_EQ(engine().time_wait_count(), 1u);
  AdmissionPolicy p = policy();
  p.deny = {prefix("198.19.1.0/24")};
  set(p);
  // A new SYN above the old incarnation's sequence numbers and timestamps: TIME-WAIT would hand
  // it over.
  const SegmentSpec new_syn = linux_syn(kIrs + 100000, 9000);
  send(a, kPort, new_syn);
  expect_reset(take_segment(), a, kPort, kRst | kAck, 0, new_syn.seq + 1);
  EXPECT_EQ(engine().time_wait_count(), 1u);
  EXPECT_EQ(stats().time_wait_reused.get(), 0u);
  set(std::nullopt);
  send(a, kPort, new_syn);
  EXPECT_EQ(flags_string(take_segment().flags), flags_string(kSyn | kAck));
  EXPECT_EQ(engine().time_wait_count(), 0u);
  EXPECT_EQ(stats().time_wait_reused.get(), 1u);
}

TEST_P(EngineAdmission, CookieHandshakesObeyTheListsAndTheConnectionCap) {
  set_syncookies(tcp::SynCookieMode::kAlways);
  AdmissionPolicy p = policy();
  p.deny = {prefix("198.19.9.0/24")};
  p.max_connections = 1;
  set(p);
  expect_reset_to_syn(at("198.19.9.1"));
  EXPECT_EQ(stats().syncookies_sent.get(), 0u);  // refused before any cookie

  // Two cookies go out while the prefix holds nothing; only one may become a connection.
  const Peer a = at("198.19.1.1", 1001);
  const Peer b = at("198.19.1.2", 1002);
  SentSegment cookie_a = syn(a, kPort, linux_syn(kIrs));
  SentSegment cookie_b = syn(b, kPort, linux_syn(kIrs));
  EXPECT_EQ(stats().syncookies_sent.get(), 2u);
  send(a, kPort, final_ack(cookie_a));
  expect_nothing_sent();
  EXPECT_TRUE(engine().accept(listener_).is_ok());
  send(b, kPort, final_ack(cookie_b));
  expect_reset(take_segment(), b, kPort, kRst, cookie_b.seq + 1, 0);
  EXPECT_EQ(stats().syncookies_validated.get(), 1u);
  EXPECT_EQ(refused(AdmissionReason::kConnectionCap), 1u);
  EXPECT_EQ(engine().accept(listener_).status().code, ErrorCode::kWouldBlock);

  // A cookie sent before its source was denied makes no connection after.
  const Peer c = at("198.19.2.1", 1003);
  SentSegment cookie_c = syn(c, kPort, linux_syn(kIrs));
  p.deny.push_back(prefix("198.19.2.0/24"));
  set(p);
  send(c, kPort, final_ack(cookie_c));
  expect_reset(take_segment(), c, kPort, kRst, cookie_c.seq + 1, 0);
  EXPECT_EQ(refused(AdmissionReason::kDenied), 2u);
}

TEST_P(EngineAdmission, CookiesOfAFullSynTableComeOnlyAfterThePolicy) {
  // syn_backlog 1: the second admitted SYN gets a cookie; the refused one gets nothing.
  ASSERT_TRUE(engine().close(listener_, false).is_ok());
  listener_ = listen(kPort, 64, 1);
  AdmissionPolicy p = policy();
  p.allow = {prefix("198.19.1.0/24")};
  p.list_refusal = Refusal::kSilence;
  set(p);
  expect_answered(at("198.19.1.1", 1001));
  expect_answered(at("198.19.1.2", 1002));
  EXPECT_EQ(stats().syncookies_sent.get(), 1u);
  expect_silence_to_syn(at("198.19.3.1", 1003));
  EXPECT_EQ(stats().syncookies_sent.get(), 1u);
}

TEST_P(EngineAdmission, PolicyChangesTakeEffectOnTheNextSyn) {
  const Peer a = at("198.19.1.1", 1001);
  connect_from(a);
  AdmissionPolicy deny = policy();
  deny.deny = {prefix("198.19.1.0/24")};
  set(deny);
  EXPECT_EQ(info(listener_).listener->admission, deny);
  expect_reset_to_syn(at("198.19.1.2", 1002));

  // A new policy counts what exists: the connection made before any policy is at the cap.
  AdmissionPolicy cap = policy();
  cap.max_connections = 1;
  set(cap);
  expect_reset_to_syn(at("198.19.1.2", 1002));
  EXPECT_EQ(refused(AdmissionReason::kConnectionCap), 1u);
  EXPECT_EQ(counters().sources, 1u);
  peer_resets(a);
  expect_answered(at("198.19.1.2", 1002));
  EXPECT_EQ(counters().sources, 1u);  // pinned by its handshake

  set(std::nullopt);
  EXPECT_EQ(info(listener_).listener->admission, std::nullopt);
  for (uint16_t port = 2000; port < 2005; ++port) expect_answered(at("198.19.1.9", port));
  // The counters are the listener's, over all its policies.
  EXPECT_EQ(refused(AdmissionReason::kDenied), 1u);
  EXPECT_EQ(refused(AdmissionReason::kConnectionCap), 1u);
  EXPECT_EQ(counters().admitted, 1u);
  EXPECT_EQ(counters().sources, 0u);
}

TEST_P(EngineAdmission, ReplacingThePolicyKeepsTheCountsOfLiveHandshakes) {
  AdmissionPolicy p = policy();
  p.max_half_open = 1;
  set(p);
  const Peer a = at("198.19.1.1", 1001);
  SentSegment synack = syn(a, kPort, linux_syn(kIrs));
  p.syn_rate = AdmissionPolicy::SynRate{.per_second = 100, .burst = 100};
  set(p);
  expect_reset_to_syn(at("198.19.1.2", 1002));
  // The handshake completes under the new policy and gives its count back there.
  send(a, kPort, final_ack(synack));
  expect_nothing_sent();
  expect_answered(at("198.19.1.2", 1002));
}

TEST_P(EngineAdmission, SetAdmissionNeedsAListenerAndAValidPolicy) {
  EXPECT_EQ(engine().set_admission(999999, policy()).code, ErrorCode::kNotFound);
  auto bound = engine().create_endpoint();
  ASSERT_TRUE(bound.is_ok());
  ASSERT_TRUE(engine().bind(*bound, any_address(), 81).is_ok());
  Status not_listening = engine().set_admission(*bound, policy());
  EXPECT_EQ(not_listening.code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(not_listening.message.find("BOUND"), std::string::npos) << not_listening.message;
  EndpointId connection = connect_from(at("198.19.1.1"));
  EXPECT_EQ(engine().set_admission(connection, std::nullopt).code, ErrorCode::kFailedPrecondition);
  AdmissionPolicy bad = policy();
  bad.syn_rate = AdmissionPolicy::SynRate{.per_second = 0, .burst = 1};
  Status invalid = engine().set_admission(listener_, bad);
  EXPECT_EQ(invalid.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(invalid.message.find("SYN rate"), std::string::npos) << invalid.message;
  EXPECT_EQ(info(listener_).listener->admission, std::nullopt);
}

TEST_P(EngineAdmission, HalfOpenRecordsHaveRoomOfTheirOwnAndConnectionsPinTheRest) {
  AdmissionPolicy p = per_address_policy();
  p.max_half_open = 5;
  p.source_table_size = 2;
  set(p);
  // Two connections fill the policy's two entries...
  connect_from(at("198.19.1.1", 1001));
  connect_from(at("198.19.1.2", 1002));
  // ...and handshakes still find room: the table holds syn_backlog more for the prefixes that
  // hold half-open records, so a flood that fills the SYN table refuses no one by it.
  ASSERT_TRUE(engine().listen(listener_, 64, 2).is_ok());
  const Peer a = at("198.19.1.3", 1003);
  expect_answered(a);
  expect_answered(at("198.19.1.4", 1004));
  EXPECT_EQ(counters().sources, 4u);
  // Every entry now holds something: a new source finds no room.
  expect_reset_to_syn(at("198.19.1.5", 1005));
  EXPECT_EQ(refused(AdmissionReason::kSourceTableFull), 1u);
  EXPECT_EQ(dropped(DropReason::admission_source_table_full), 1u);
  // a's handshake is reset: it holds nothing, and gives its entry up for a new source.
  send(a, kPort, SegmentSpec{.flags = kRst, .seq = kIrs + 1});
  expect_answered(at("198.19.1.5", 1005));
  EXPECT_EQ(counters().sources, 4u);
  EXPECT_EQ(counters().sources_evicted, 1u);
}

TEST_P(EngineAdmission, FloodFromManySpoofedSourcesKeepsTheTableAtItsSize) {
  set_syncookies(tcp::SynCookieMode::kAlways);
  AdmissionPolicy p = per_address_policy();
  p.syn_rate = AdmissionPolicy::SynRate{.per_second = 1, .burst = 1};
  p.source_table_size = 1000;
  set(p);
  constexpr uint32_t kSources = 100000;
  for (uint32_t i = 0; i < kSources; ++i) {
    const uint32_t host = 0x0100 + i;  // from 198.18.1.0 up: off-link, one address each
    const std::string v4 = "198." + std::to_string(18 + (host >> 16)) + "." +
                           std::to_string((host >> 8) & 0xff) + "." + std::to_string(host & 0xff);
    send(at(v4, static_cast<uint16_t>(1024 + i % 60000)), kPort, linux_syn(kIrs + i));
    if (i % 1000 == 999) {
      sink_.frames.clear();
      ASSERT_LE(counters().sources, 1064u);
    }
  }
  // The policy's 1000 and the listener's syn_backlog (64) of room for half-open prefixes.
  EXPECT_EQ(counters().sources, 1064u);
  EXPECT_EQ(counters().sources_evicted, kSources - 1064);
  EXPECT_EQ(counters().admitted, kSources);  // each new source starts with a full bucket
  EXPECT_EQ(stats().syncookies_sent.get(), kSources);
}

TEST_P(EngineAdmission, ClosingTheListenerBeforeItsConnectionsEnd) {
  AdmissionPolicy p = policy();
  p.max_connections = 5;
  set(p);
  const Peer a = at("198.19.1.1", 1001);
  const Peer b = at("198.19.1.2", 1002);
  connect_from(a);
  EndpointId id_b = connect_from(b);
  ASSERT_TRUE(engine().close(listener_, false).is_ok());

  // A new listener on the port counts only its own connections.
  listener_ = listen(kPort, 64);
  p.max_connections = 1;
  set(p);
  EndpointId id_c = connect_from(at("198.19.1.3", 1003));
  peer_resets(a);
  ASSERT_TRUE(engine().close(id_b, true).is_ok());
  take_frames();
  expect_reset_to_syn(at("198.19.1.4", 1004));  // c is still counted, the old ones never were
  ASSERT_TRUE(engine().close(id_c, true).is_ok());
  take_frames();
  expect_answered(at("198.19.1.4", 1004));
  EXPECT_EQ(refused(AdmissionReason::kConnectionCap), 1u);
}

TEST_P(EngineAdmission, ConnectionsQueuedWhenTheListenerClosesAreResetSafely) {
  AdmissionPolicy p = policy();
  p.max_connections = 3;
  set(p);
  const Peer a = at("198.19.1.1", 1001);
  SentSegment synack = syn(a, kPort, linux_syn(kIrs));
  send(a, kPort, final_ack(synack));        // queued, never accepted
  expect_answered(at("198.19.1.2", 1002));  // a handshake in progress
  ASSERT_TRUE(engine().close(listener_, false).is_ok());
  take_frames();
  EXPECT_EQ(engine().half_open_count(), 0u);
  EXPECT_EQ(engine().endpoint_count(), 0u);
}

INSTANTIATE_FOR_BOTH_FAMILIES(EngineAdmission);

// The kernel cookie path answers SYNs of listeners in cookie mode before the engine sees them:
// a listener with a policy is never published in that mode.
class EngineAdmissionCookiePath : public EngineTest {
 protected:
  EngineAdmissionCookiePath() {
    attach(peer_);
    engine().attach_cookie_path(shared_.memory());
  }
  Peer peer_;
  SharedMemory shared_;
};

TEST_F(EngineAdmissionCookiePath, ListenerWithAPolicyIsNeverInCookieMode) {
  EndpointId listener = listen(kPort, 8);
  TunableConfig t = engine().tunable();
  t.syncookies = tcp::SynCookieMode::kAlways;
  engine().update_tunable(t);
  EXPECT_EQ(shared_.listeners[kPort].mode, COOKIE_PATH_ON);
  AdmissionPolicy deny;
  deny.deny = {*tcp::IpPrefix::parse("198.18.0.1/32")};
  ASSERT_TRUE(engine().set_admission(listener, deny).is_ok());
  EXPECT_EQ(shared_.listeners[kPort].mode, COOKIE_PATH_OFF);
  // Cookies the program sent until now stay checkable; the engine answers SYNs itself.
  EXPECT_EQ(shared_.listeners[kPort].cookies_checkable_until, ~uint64_t{0});
  send(peer_, kPort, linux_syn(kIrs));
  expect_reset(take_segment(), peer_, kPort, kRst | kAck, 0, kIrs + 1);
  EXPECT_EQ(stats().syncookies_sent.get(), 0u);
  ASSERT_TRUE(engine().set_admission(listener, std::nullopt).is_ok());
  EXPECT_EQ(shared_.listeners[kPort].mode, COOKIE_PATH_ON);
}

TEST(ListenerInfoTest, AddQueuesAddsTheAdmissionCountersOfReplicas) {
  ListenerInfo sum;
  sum.admission_counters.admitted = 3;
  sum.admission_counters.refused[1] = 2;
  sum.admission_counters.sources = 4;
  ListenerInfo replica;
  replica.admission_counters.admitted = 5;
  replica.admission_counters.refused[1] = 1;
  replica.admission_counters.refused[5] = 7;
  replica.admission_counters.sources = 6;
  replica.admission_counters.sources_evicted = 9;
  add_queues(sum, replica);
  EXPECT_EQ(sum.admission_counters.admitted, 8u);
  EXPECT_EQ(sum.admission_counters.refused[1], 3u);
  EXPECT_EQ(sum.admission_counters.refused[5], 7u);
  EXPECT_EQ(sum.admission_counters.sources, 10u);
  EXPECT_EQ(sum.admission_counters.sources_evicted, 9u);
}

}  // namespace
}  // namespace tapstack::engine_test
