// Admission: a listener's policy on which SYNs it answers (admission_policy.h), applied before
// anything else is done for a SYN (answer_syn) and to cookie ACKs, which make a connection
// without a half-open record. The caps count the listener's half-open records and connections
// from their making to their end, in the Admission they were made under.
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {
namespace {

DropReason drop_reason(AdmissionReason reason) {
  switch (reason) {
    case AdmissionReason::kDenied:
      return DropReason::admission_denied;
    case AdmissionReason::kNotAllowed:
      return DropReason::admission_not_allowed;
    case AdmissionReason::kRateLimited:
      return DropReason::admission_rate_limited;
    case AdmissionReason::kHalfOpenCap:
      return DropReason::admission_half_open_cap;
    case AdmissionReason::kConnectionCap:
      return DropReason::admission_connection_cap;
    case AdmissionReason::kSourceTableFull:
      return DropReason::admission_source_table_full;
  }
  return DropReason::admission_denied;
}

}  // namespace

Status Tcp::set_admission(EndpointId id, std::optional<AdmissionPolicy> policy) {
  Endpoint* e = find_endpoint(id);
  if (!e) return error(ErrorCode::kNotFound, "no endpoint " + std::to_string(id));
  if (!e->listener) {
    return error(ErrorCode::kFailedPrecondition, "endpoint " + std::to_string(id) + " is " +
                                                     std::string(to_string(e->state())) +
                                                     "; an admission policy is a listener's");
  }
  if (policy) {
    if (Status valid = policy->validate(); !valid.is_ok()) return valid;
  }
  Listener& l = *e->listener;
  // A new policy starts a new table: its source prefixes may be cut differently, so nothing
  // per source is kept but what must stay right, the counts of what exists, recounted.
  l.admission.reset();
  if (policy) {
    l.admission = std::make_unique<Admission>(std::move(*policy), l.syn_backlog, admission_seed_,
                                              ++admission_epochs_, l.admission_counters);
    count_into_admission(l);
  }
  // With a policy the kernel cookie path must leave this listener's SYNs to the engine.
  publish_listener(l);
  return Status::ok();
}

void Tcp::count_into_admission(Listener& l) {
  Admission& a = *l.admission;
  for (const auto& [tuple, h] : half_open_) {
    if (h.listener == &l) a.on_half_open_created(tuple.remote);
  }
  for (const auto& [tuple, c] : connections_) {
    if (c->listener == l.id) count_connection(l, *c);
  }
}

void Tcp::count_connection(Listener& l, Connection& c) {
  l.admission->on_connection_created(c.tuple.remote);
  c.admission_epoch = l.admission->epoch();
}

void Tcp::uncount_connection(const Connection& c) {
  if (c.admission_epoch == 0) return;
  Endpoint* e = find_endpoint(c.listener);
  if (!e || !e->listener || !e->listener->admission) return;
  Admission& a = *e->listener->admission;
  if (a.epoch() == c.admission_epoch) a.on_connection_forgotten(c.tuple.remote);
}

bool Tcp::admit_syn(Listener& l, const Segment& seg) {
  if (!l.admission) return true;
  auto refused = l.admission->check_syn(seg.tuple.remote, now_);
  if (refused) refuse(*refused, seg);
  return !refused;
}

bool Tcp::admit_cookie_ack(Listener& l, const Segment& seg, const HalfOpen* superseded) {
  if (!l.admission) return true;
  auto refused = l.admission->check_cookie_ack(seg.tuple.remote, superseded != nullptr);
  if (refused) refuse(*refused, seg);
  return !refused;
}

void Tcp::refuse(const Admission::Refused& refused, const Segment& seg) {
  stats_.drop(drop_reason(refused.reason));
  if (refused.refusal == Refusal::kReset) send_reset_for(seg);
}

}  // namespace tapstack::tcp
