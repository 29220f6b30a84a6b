// A listener's admission policy: which SYNs it answers at all, decided before any half-open
// record or cookie exists (what iptables rules and proxies' connection limits do outside the
// stack, done where the SYN arrives). The policy is a value; Admission (admission.h) applies
// it with the per-source state it needs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stack/header/ip_address.h"
#include "stack/status.h"

namespace tapstack::tcp {

// An address prefix of either family: "198.18.0.0/15", "2001:db8::/32". The address has no
// bits set past the length (parse refuses "198.18.0.1/15", as a route table would).
struct IpPrefix {
  IpAddress address;
  uint8_t length = 0;  // in the address's own family: 0..32 for IPv4, 0..128 for IPv6

  static std::optional<IpPrefix> parse(std::string_view text);
  bool contains(const IpAddress& a) const;
  // Whether every address in `other` is in this prefix (same family, shorter or equal length).
  bool covers(const IpPrefix& other) const;
  std::string to_string() const;
  bool operator==(const IpPrefix&) const = default;
};

// The most bits a prefix of `family` has: 32 or 128.
inline uint8_t max_prefix_length(IpFamily family) {
  return family == IpFamily::kIpv4 ? 32 : 128;
}
// `a` with every bit past the first `length` of its own family cleared: the prefix it is in.
IpAddress masked(const IpAddress& a, uint8_t length);

// What a refused client sees: a RST to its SYN (connect() fails at once with ECONNREFUSED) or
// nothing (it retransmits its SYN by its own backoff, as behind a dropping firewall).
enum class Refusal : uint8_t { kReset, kSilence };

// Why a SYN (or a cookie ACK: lists, connection cap, table) was refused, one counter each per
// listener (the exporter's `reason` label).
enum class AdmissionReason : uint8_t {
  kDenied,           // the source is in a deny prefix
  kNotAllowed,       // an allow list is set and the source is in none of it
  kRateLimited,      // the source prefix's SYN token bucket is empty
  kHalfOpenCap,      // the source prefix has max_half_open handshakes in progress
  kConnectionCap,    // the source prefix has max_connections connections (and handshakes)
  kSourceTableFull,  // no room to track a new source prefix (every entry holds a record)
};
inline constexpr size_t kAdmissionReasonCount = 6;
std::string_view to_string(AdmissionReason reason);  // "denied", "not_allowed", ...

struct AdmissionPolicy {
  // Bounds a policy can hold, so that one Listen call cannot make a SYN's check cost more than
  // a fixed number of lookups.
  static constexpr size_t kMaxPrefixes = 1024;  // allow and deny together

  // Lists: a source in any deny prefix is refused; with a non-empty allow list, so is a source
  // outside all of it. An allow prefix inside a deny prefix would allow nothing: a conflict.
  std::vector<IpPrefix> allow{};
  std::vector<IpPrefix> deny{};
  Refusal list_refusal = Refusal::kReset;

  // Per-source limits count by source prefix: sources in one /24 (IPv4) or /64 (IPv6) share
  // a token bucket and the caps, as one client host (or one attacker's block) would.
  uint8_t ipv4_source_prefix = 24;  // 1..32
  uint8_t ipv6_source_prefix = 64;  // 1..128

  // A SYN token bucket per source prefix: `syn_rate` tokens a second, at most `syn_burst`
  // saved up; a SYN takes one. Unset: no rate limit.
  struct SynRate {
    double per_second = 0;  // > 0, at most kMaxSynRate
    uint32_t burst = 0;     // >= 1
    bool operator==(const SynRate&) const = default;
  };
  std::optional<SynRate> syn_rate{};
  static constexpr double kMaxSynRate = 1e9;  // one a nanosecond, the clock's grain
  // A token bucket per source prefix, held as the time it is full again (GCRA), which a
  // source prefix forgotten by the table (below) loses: it starts full when seen again.
  Refusal rate_refusal = Refusal::kSilence;

  // Caps per source prefix: handshakes in progress (half-open records; cookie handshakes hold
  // none and are not counted) and connections (from the handshake's completion until the
  // connection is forgotten: TIME-WAIT no longer counts). A SYN is refused at the connection
  // cap when connections and handshakes in progress together reach it, so that the handshakes
  // completing never take the prefix past it; a cookie ACK (which makes a connection at once)
  // is checked against it too. 0: no cap.
  uint32_t max_half_open = 0;
  uint32_t max_connections = 0;
  Refusal cap_refusal = Refusal::kReset;

  // How many source prefixes the listener tracks at once besides those holding half-open
  // records, which have room of their own up to the listener's syn_backlog (so a spoofed flood
  // that fills the SYN table pins at most that many and never crowds out other sources): the
  // bound on its per-source memory is (source_table_size + syn_backlog) entries of about 100
  // bytes, hash buckets included. Beyond it the least recently seen prefix that holds no
  // handshake or connection is forgotten (its bucket refills); with none to forget, i.e. with
  // source_table_size prefixes holding connections, the SYN is refused as kSourceTableFull with
  // cap_refusal.
  uint32_t source_table_size = 16384;  // 1..1048576
  static constexpr uint32_t kMaxSourceTableSize = 1u << 20;

  // Whether anything per source is counted (a rate or a cap), i.e. whether a table is needed.
  bool tracks_sources() const { return syn_rate || max_half_open || max_connections; }
  // Ok, or kInvalidArgument naming the first conflict or bad value.
  Status validate() const;
  bool operator==(const AdmissionPolicy&) const = default;
};

// What a listener's admission has done, for the exporter and GetEndpoint.
struct AdmissionCounters {
  uint64_t admitted = 0;                                  // SYNs that passed the policy
  std::array<uint64_t, kAdmissionReasonCount> refused{};  // by AdmissionReason
  uint32_t sources = 0;                                   // source prefixes tracked now
  uint64_t sources_evicted = 0;
};

}  // namespace tapstack::tcp
