// Admission on its own (stack/tcp/admission.h): the lists, the SYN bucket's rate over simulated
// time, the caps, and the bound on the per-source table. The engine's use of it is in
// engine_admission_test.cc.
#include "stack/tcp/admission.h"

#include <gtest/gtest.h>

#include <optional>

namespace tapstack::tcp {
namespace {

constexpr Time kStart = seconds(1000);

IpAddress address(std::string_view text) {
  return *IpAddress::parse(text);
}
IpPrefix prefix(std::string_view text) {
  return *IpPrefix::parse(text);
}
IpAddress v4(uint32_t value) {
  return Ipv4Address{value};
}

// An admission under `policy`, with its counters.
struct Bench {
  explicit Bench(AdmissionPolicy policy) : admission(std::move(policy), 0, 0x1234, 1, counters) {}
  std::optional<AdmissionReason> syn(std::string_view source, Time now = kStart) {
    return syn(address(source), now);
  }
  std::optional<AdmissionReason> syn(const IpAddress& source, Time now = kStart) {
    auto refused = admission.check_syn(source, now);
    return refused ? std::optional(refused->reason) : std::nullopt;
  }
  uint64_t refused(AdmissionReason reason) const {
    return counters.refused[static_cast<size_t>(reason)];
  }
  AdmissionCounters counters;
  Admission admission;
};

TEST(AdmissionTest, DenyWinsOverAllowAndEachListRefusesAsTold) {
  Bench b({.allow = {prefix("198.18.0.0/16"), prefix("2001:db8::/32")},
           .deny = {prefix("198.18.9.0/24"), prefix("198.18.10.7/32")},
           .list_refusal = Refusal::kSilence});
  EXPECT_EQ(b.syn("198.18.1.1"), std::nullopt);
  EXPECT_EQ(b.syn("2001:db8:5::1"), std::nullopt);
  EXPECT_EQ(b.syn("198.18.9.200"), AdmissionReason::kDenied);
  EXPECT_EQ(b.syn("198.18.10.7"), AdmissionReason::kDenied);
  EXPECT_EQ(b.syn("198.18.10.8"), std::nullopt);
  EXPECT_EQ(b.syn("198.19.0.1"), AdmissionReason::kNotAllowed);
  EXPECT_EQ(b.syn("2001:db9::1"), AdmissionReason::kNotAllowed);
  EXPECT_EQ(b.admission.check_syn(address("198.19.0.1"), kStart)->refusal, Refusal::kSilence);
  EXPECT_EQ(b.counters.admitted, 3u);
  EXPECT_EQ(b.refused(AdmissionReason::kDenied), 2u);
  EXPECT_EQ(b.refused(AdmissionReason::kNotAllowed), 3u);
  EXPECT_EQ(b.counters.sources, 0u);  // nothing per source to count: no table
}

TEST(AdmissionTest, ManyPrefixesOfManyLengths) {
  AdmissionPolicy p;
  // 1000 deny prefixes of lengths 25..32, 131 addresses apart across 198.18.0.0/15 (so none is
  // inside another).
  for (uint32_t i = 0; i < 1000; ++i) {
    const uint8_t length = static_cast<uint8_t>(25 + i % 8);
    p.deny.push_back(IpPrefix{masked(v4((198u << 24) | (18u << 16) | (i * 131)), length), length});
  }
  ASSERT_TRUE(p.validate().is_ok()) << p.validate().message;
  Bench b(p);
  // Every address is judged as a scan of the list would judge it, denied or not.
  uint32_t denied = 0;
  for (uint32_t i = 0; i < 5000; ++i) {
    const IpAddress a = v4((198u << 24) | (18u << 16) | (i * 29) % 0x20000);
    bool in_any = false;
    for (const IpPrefix& d : p.deny) in_any = in_any || d.contains(a);
    denied += in_any;
    EXPECT_EQ(b.syn(a), in_any ? std::optional(AdmissionReason::kDenied) : std::nullopt)
        << a.to_string();
  }
  EXPECT_GT(denied, 500u);
  EXPECT_LT(denied, 4500u);
}

TEST(AdmissionTest, RateHoldsOverTenSimulatedSeconds) {
  Bench b({.syn_rate = AdmissionPolicy::SynRate{.per_second = 50, .burst = 10}});
  uint64_t admitted = 0;
  // A SYN every 2 ms (500 a second) for 10 s from one /24.
  for (int i = 0; i < 5000; ++i) {
    const Time t = kStart + milliseconds(2 * i);
    admitted += !b.syn(v4((198u << 24) | (19u << 16) | (1u << 8) | (i % 250 + 1)), t);
  }
  // The burst at once, then 50 a second: 10 + 500 (the first SYN at 0 s, the last at 9.998 s).
  EXPECT_NEAR(static_cast<double>(admitted), 510.0, 510 * 0.01);
  EXPECT_EQ(b.counters.admitted, admitted);
  EXPECT_EQ(b.refused(AdmissionReason::kRateLimited), 5000 - admitted);
  EXPECT_EQ(b.counters.sources, 1u);
}

TEST(AdmissionTest, BurstIsAvailableAtOnceAndRefillsAtTheRate) {
  Bench b({.syn_rate = AdmissionPolicy::SynRate{.per_second = 4, .burst = 3},
           .rate_refusal = Refusal::kReset});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b.syn("198.18.1.1"), std::nullopt);
  EXPECT_EQ(b.syn("198.18.1.1"), AdmissionReason::kRateLimited);
  EXPECT_EQ(b.admission.check_syn(address("198.18.1.1"), kStart)->refusal, Refusal::kReset);
  EXPECT_EQ(b.syn("198.18.1.1", kStart + milliseconds(249)), AdmissionReason::kRateLimited);
  EXPECT_EQ(b.syn("198.18.1.1", kStart + milliseconds(250)), std::nullopt);
  EXPECT_EQ(b.syn("198.18.1.1", kStart + milliseconds(251)), AdmissionReason::kRateLimited);
  // A long pause refills to the burst, no further.
  const Time later = kStart + seconds(60);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b.syn("198.18.1.1", later), std::nullopt);
  EXPECT_EQ(b.syn("198.18.1.1", later), AdmissionReason::kRateLimited);
}

TEST(AdmissionTest, SourcesInOnePrefixShareABucketAndOthersHaveTheirOwn) {
  Bench b({.ipv6_source_prefix = 48,
           .syn_rate = AdmissionPolicy::SynRate{.per_second = 1, .burst = 2}});
  EXPECT_EQ(b.syn("198.18.1.1"), std::nullopt);
  EXPECT_EQ(b.syn("198.18.1.200"), std::nullopt);
  EXPECT_EQ(b.syn("198.18.1.7"), AdmissionReason::kRateLimited);  // the same /24
  EXPECT_EQ(b.syn("198.18.2.1"), std::nullopt);                   // another /24
  EXPECT_EQ(b.syn("2001:db8:1:2::1"), std::nullopt);
  EXPECT_EQ(b.syn("2001:db8:1:3::1"), std::nullopt);
  EXPECT_EQ(b.syn("2001:db8:1:4::1"), AdmissionReason::kRateLimited);  // the same /48
  EXPECT_EQ(b.syn("2001:db8:2::1"), std::nullopt);
  EXPECT_EQ(b.counters.sources, 4u);
}

TEST(AdmissionTest, CapsCountWhatIsHeldAndHalfOpenRecordsHoldTheirPlaceInTheConnectionCap) {
  Bench b({.max_half_open = 2, .max_connections = 3, .cap_refusal = Refusal::kSilence});
  const IpAddress a = address("198.18.1.1");
  const IpAddress same_prefix = address("198.18.1.2");
  EXPECT_EQ(b.syn(a), std::nullopt);
  b.admission.on_half_open_created(a);
  EXPECT_EQ(b.syn(same_prefix), std::nullopt);
  b.admission.on_half_open_created(same_prefix);
  EXPECT_EQ(b.syn(a), AdmissionReason::kHalfOpenCap);
  EXPECT_EQ(b.syn("198.18.2.1"), std::nullopt);  // another prefix
  // Both complete: two connections, no handshakes.
  for (const IpAddress& s : {a, same_prefix}) {
    b.admission.on_connection_created(s);
    b.admission.on_half_open_erased(s);
  }
  EXPECT_EQ(b.syn(a), std::nullopt);
  b.admission.on_half_open_created(a);
  // Two connections and a handshake that may complete: the cap is reached.
  EXPECT_EQ(b.syn(a), AdmissionReason::kConnectionCap);
  EXPECT_EQ(b.admission.check_cookie_ack(a, false)->reason, AdmissionReason::kConnectionCap);
  // A cookie ACK replacing that handshake's record takes its place.
  EXPECT_EQ(b.admission.check_cookie_ack(a, true), std::nullopt);
  b.admission.on_half_open_erased(a);
  b.admission.on_connection_forgotten(same_prefix);
  EXPECT_EQ(b.syn(a), std::nullopt);
  EXPECT_EQ(b.refused(AdmissionReason::kHalfOpenCap), 1u);
  EXPECT_EQ(b.refused(AdmissionReason::kConnectionCap), 2u);
}

TEST(AdmissionTest, CookieAcksObeyTheListsButNotTheRate) {
  Bench b({.deny = {prefix("198.18.9.0/24")},
           .syn_rate = AdmissionPolicy::SynRate{.per_second = 1, .burst = 1}});
  EXPECT_EQ(b.syn("198.18.1.1"), std::nullopt);
  EXPECT_EQ(b.syn("198.18.1.1"), AdmissionReason::kRateLimited);
  EXPECT_EQ(b.admission.check_cookie_ack(address("198.18.1.1"), false), std::nullopt);
  EXPECT_EQ(b.admission.check_cookie_ack(address("198.18.9.1"), false)->reason,
            AdmissionReason::kDenied);
  EXPECT_EQ(b.counters.admitted, 1u);  // SYNs only
}

TEST(AdmissionTest, TableEvictsTheLeastRecentlySeenAndRefusesWhenAllArePinned) {
  Bench b({.ipv4_source_prefix = 32,
           .syn_rate = AdmissionPolicy::SynRate{.per_second = 1, .burst = 1},
           .source_table_size = 2});
  const IpAddress a = address("198.18.0.10");
  const IpAddress c = address("198.18.0.12");
  EXPECT_EQ(b.syn(a), std::nullopt);
  EXPECT_EQ(b.syn("198.18.0.11"), std::nullopt);
  EXPECT_EQ(b.syn(a), AdmissionReason::kRateLimited);  // a seen again: .11 is now the oldest
  EXPECT_EQ(b.syn(c), std::nullopt);                   // evicts .11
  EXPECT_EQ(b.counters.sources_evicted, 1u);
  EXPECT_EQ(b.syn(a), AdmissionReason::kRateLimited);  // a's bucket was kept
  EXPECT_EQ(b.syn("198.18.0.11"), std::nullopt);       // evicts c; .11 starts full again
  EXPECT_EQ(b.counters.sources_evicted, 2u);
  // Pinned entries are never evicted: with both pinned, a new source finds no room.
  b.admission.on_half_open_created(a);
  b.admission.on_connection_created(address("198.18.0.11"));
  EXPECT_EQ(b.syn(c), AdmissionReason::kSourceTableFull);
  EXPECT_EQ(b.admission.check_syn(c, kStart)->refusal, Refusal::kReset);  // cap_refusal
  EXPECT_EQ(b.counters.sources, 2u);
  b.admission.on_half_open_erased(a);
  EXPECT_EQ(b.syn(c), std::nullopt);  // a held nothing more: evicted for c
  EXPECT_EQ(b.counters.sources, 2u);
  EXPECT_EQ(b.counters.sources_evicted, 3u);
  EXPECT_EQ(b.refused(AdmissionReason::kSourceTableFull), 2u);
}

TEST(AdmissionTest, RecordsCountedPastTheCapacityAreTrimmedAsTheyEnd) {
  Bench b({.ipv4_source_prefix = 32, .max_connections = 10, .source_table_size = 2});
  // A table rebuilt under a new policy counts every record that exists, past its capacity.
  for (uint32_t i = 1; i <= 5; ++i) b.admission.on_connection_created(v4(0xc6120000 + i));
  EXPECT_EQ(b.counters.sources, 5u);
  EXPECT_EQ(b.syn("198.18.0.100"), AdmissionReason::kSourceTableFull);
  for (uint32_t i = 1; i <= 5; ++i) b.admission.on_connection_forgotten(v4(0xc6120000 + i));
  EXPECT_EQ(b.counters.sources, 2u);
  EXPECT_EQ(b.syn("198.18.0.100"), std::nullopt);
  EXPECT_EQ(b.counters.sources, 2u);
}

TEST(AdmissionTest, FloodFromManySpoofedSourcesKeepsTheTableAtItsSize) {
  Bench b({.ipv4_source_prefix = 32,
           .syn_rate = AdmissionPolicy::SynRate{.per_second = 1, .burst = 1},
           .source_table_size = 1000});
  for (uint32_t i = 0; i < 100000; ++i) {
    EXPECT_EQ(b.syn(v4((198u << 24) | (18u << 16) | i), kStart + microseconds(i)), std::nullopt);
    ASSERT_LE(b.counters.sources, 1000u);
  }
  EXPECT_EQ(b.counters.sources, 1000u);
  EXPECT_EQ(b.counters.sources_evicted, 99000u);
  EXPECT_EQ(b.admission.sources(), 1000u);
}

TEST(AdmissionTest, DestroyingTheAdmissionLeavesItsCountersButNoSources) {
  AdmissionCounters counters;
  {
    Admission a({.max_connections = 1}, 0, 1, 1, counters);
    EXPECT_FALSE(a.check_syn(address("198.18.0.1"), kStart));
    EXPECT_EQ(counters.sources, 1u);
  }
  EXPECT_EQ(counters.admitted, 1u);
  EXPECT_EQ(counters.sources, 0u);
}

}  // namespace
}  // namespace tapstack::tcp
