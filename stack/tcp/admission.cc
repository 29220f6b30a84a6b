#include "stack/tcp/admission.h"

#include <algorithm>
#include <cmath>

namespace tapstack::tcp {
namespace {

// Rates slower than this are this slow: the bucket's times stay far from overflowing.
constexpr Duration kMaxTokenInterval = seconds(365LL * 24 * 3600);
constexpr Duration kMaxBucketDepth = 100 * kMaxTokenInterval;

}  // namespace

Admission::Admission(AdmissionPolicy policy, uint32_t syn_backlog, uint64_t seed, uint64_t epoch,
                     AdmissionCounters& counters)
    : policy_(std::move(policy)),
      epoch_(epoch),
      counters_(counters),
      allow_(policy_.allow, seed),
      deny_(policy_.deny, seed) {
  if (policy_.syn_rate) {
    const double interval = std::round(1e9 / policy_.syn_rate->per_second);
    token_interval_ = std::clamp(Duration(static_cast<int64_t>(std::min(interval, 1e18))),
                                 Duration(1), kMaxTokenInterval);
    const double depth = static_cast<double>(token_interval_.count()) *
                         static_cast<double>(policy_.syn_rate->burst - 1);
    bucket_depth_ = Duration(static_cast<int64_t>(std::min(depth, 1.0 * kMaxBucketDepth.count())));
  }
  if (policy_.tracks_sources()) {
    table_ = std::make_unique<SourceTable>(table_capacity(syn_backlog), seed ^ 0x736f75726365ULL,
                                           counters_);
  }
}

uint32_t Admission::table_capacity(uint32_t syn_backlog) const {
  // Half-open records pin their prefixes, and a listener holds at most syn_backlog of them
  // (beyond it SYNs get cookies, which pin nothing): that many entries more than the policy's
  // size keep a flood that fills the SYN table from refusing every other source.
  return policy_.source_table_size + syn_backlog;
}

void Admission::set_syn_backlog(uint32_t syn_backlog) {
  if (table_) table_->set_capacity(table_capacity(syn_backlog));
}

IpAddress Admission::source_prefix(const IpAddress& source) const {
  return masked(source, source.is_v4() ? policy_.ipv4_source_prefix : policy_.ipv6_source_prefix);
}

std::optional<Admission::Refused> Admission::refuse(AdmissionReason reason, Refusal refusal) {
  ++counters_.refused[static_cast<size_t>(reason)];
  return Refused{reason, refusal};
}

std::optional<Admission::Refused> Admission::listed(const IpAddress& source) const {
  // Deny first: a deny prefix inside an allow prefix carves a hole in it.
  if (!deny_.empty() && deny_.contains(source)) {
    return Refused{AdmissionReason::kDenied, policy_.list_refusal};
  }
  if (!allow_.empty() && !allow_.contains(source)) {
    return Refused{AdmissionReason::kNotAllowed, policy_.list_refusal};
  }
  return std::nullopt;
}

std::optional<Admission::Refused> Admission::check_syn(const IpAddress& source, Time now) {
  if (auto refused = listed(source)) return refuse(refused->reason, refused->refusal);
  if (table_) {
    SourceEntry* entry = table_->visit(source_prefix(source));
    if (!entry) return refuse(AdmissionReason::kSourceTableFull, policy_.cap_refusal);
    if (policy_.max_half_open && entry->half_open >= policy_.max_half_open) {
      return refuse(AdmissionReason::kHalfOpenCap, policy_.cap_refusal);
    }
    // A half-open record holds its place in the connection cap: when they all complete, the
    // prefix still has no more than max_connections.
    if (policy_.max_connections &&
        entry->connections + entry->half_open >= policy_.max_connections) {
      return refuse(AdmissionReason::kConnectionCap, policy_.cap_refusal);
    }
    if (policy_.syn_rate && !take_token(*entry, now)) {
      return refuse(AdmissionReason::kRateLimited, policy_.rate_refusal);
    }
  }
  ++counters_.admitted;
  return std::nullopt;
}

std::optional<Admission::Refused> Admission::check_cookie_ack(const IpAddress& source,
                                                              bool supersedes_half_open) {
  if (auto refused = listed(source)) return refuse(refused->reason, refused->refusal);
  if (!table_) return std::nullopt;
  SourceEntry* entry = table_->visit(source_prefix(source));
  if (!entry) return refuse(AdmissionReason::kSourceTableFull, policy_.cap_refusal);
  const uint32_t held = entry->connections + entry->half_open - (supersedes_half_open ? 1 : 0);
  if (policy_.max_connections && held >= policy_.max_connections) {
    return refuse(AdmissionReason::kConnectionCap, policy_.cap_refusal);
  }
  return std::nullopt;
}

bool Admission::take_token(SourceEntry& entry, Time now) const {
  const Time full_at = std::max(entry.bucket_full_at, now);
  if (full_at - now > bucket_depth_) return false;
  entry.bucket_full_at = full_at + token_interval_;
  return true;
}

void Admission::adjust(const IpAddress& source, uint32_t SourceEntry::*count, int delta) {
  if (!table_) return;
  const IpAddress prefix = source_prefix(source);
  SourceEntry* entry = delta > 0 ? &table_->at(prefix) : table_->find(prefix);
  // Every record is counted from its making, so an end finds its count; if not, the count
  // stays at zero rather than wrap and pin the entry for ever.
  if (!entry || (delta < 0 && entry->*count == 0)) return;
  if (delta > 0) {
    ++(entry->*count);
  } else {
    --(entry->*count);
  }
  table_->counts_changed(*entry);
}

}  // namespace tapstack::tcp
