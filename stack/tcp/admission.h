// A listener's admission: its AdmissionPolicy and the state applying it needs (prefix sets for
// the lists, the per-source-prefix table for the rate and the caps). Tcp asks it about every SYN
// before anything else is done for the SYN (tcp_listen.cc), and about every cookie ACK, and
// tells it when the listener's half-open records and connections come and go, so that the caps
// count what exists.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "stack/clock.h"
#include "stack/tcp/admission_policy.h"
#include "stack/tcp/prefix_set.h"
#include "stack/tcp/source_table.h"

namespace tapstack::tcp {

class Admission {
 public:
  // `policy` is valid (validate()); `seed` keys the hashes of attacker-chosen addresses;
  // `epoch` tells this instance from any other of the engine's (what a connection remembers it
  // was counted in). Counts into `counters`, the listener's, which outlive any one policy.
  // `syn_backlog` is the listener's: room in the source table for prefixes that hold
  // half-open records, beside the policy's source_table_size.
  Admission(AdmissionPolicy policy, uint32_t syn_backlog, uint64_t seed, uint64_t epoch,
            AdmissionCounters& counters);

  struct Refused {
    AdmissionReason reason;
    Refusal refusal;  // what the client is to see
  };
  // A SYN from `source`: nullopt if admitted (it took a token, if a rate is set), else why not.
  std::optional<Refused> check_syn(const IpAddress& source, Time now);
  // A valid cookie ACK from `source`, which makes a connection at once: the lists and the
  // connection cap apply (its SYN took its token and held no half-open record). `supersedes`:
  // the ACK replaces a half-open record of the same tuple, whose place in the cap it takes.
  std::optional<Refused> check_cookie_ack(const IpAddress& source, bool supersedes_half_open);

  void on_half_open_created(const IpAddress& source) { adjust(source, &SourceEntry::half_open, 1); }
  void on_half_open_erased(const IpAddress& source) { adjust(source, &SourceEntry::half_open, -1); }
  void on_connection_created(const IpAddress& source) {
    adjust(source, &SourceEntry::connections, 1);
  }
  void on_connection_forgotten(const IpAddress& source) {
    adjust(source, &SourceEntry::connections, -1);
  }

  // The listener's syn_backlog changed (listen() on a listener).
  void set_syn_backlog(uint32_t syn_backlog);

  const AdmissionPolicy& policy() const { return policy_; }
  uint64_t epoch() const { return epoch_; }
  // Source prefixes tracked now (the table's size).
  size_t sources() const { return table_ ? table_->size() : 0; }

 private:
  // The source prefix `source` is counted by.
  IpAddress source_prefix(const IpAddress& source) const;
  std::optional<Refused> listed(const IpAddress& source) const;
  std::optional<Refused> refuse(AdmissionReason reason, Refusal refusal);
  // Takes a token from the entry's bucket; false if it is empty.
  bool take_token(SourceEntry& entry, Time now) const;
  void adjust(const IpAddress& source, uint32_t SourceEntry::*count, int delta);
  uint32_t table_capacity(uint32_t syn_backlog) const;

  AdmissionPolicy policy_;
  uint64_t epoch_;
  AdmissionCounters& counters_;
  PrefixSet allow_;
  PrefixSet deny_;
  // The bucket in integer nanoseconds: a token's worth of time, and how far ahead of now the
  // bucket may be full again and still hold a token ((burst - 1) tokens' worth).
  Duration token_interval_{};
  Duration bucket_depth_{};
  std::unique_ptr<SourceTable> table_;  // with a rate or a cap only
};

}  // namespace tapstack::tcp
