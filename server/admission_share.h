// What each engine loop's replica of a listener group applies of the group's admission policy
// (--queues N). A source's flows spread over the queues by their 4-tuple's hash, so each loop
// sees about 1/N of a source's SYNs and connections: the rate and the caps are divided among
// the loops, rounding the caps and the burst up so that no share is 0 (which would mean "no
// cap") and a source can always get a SYN through. The lists are the same in every loop.
// Approximate by nature: a source whose flows all land on one queue gets a 1/N share there.
#pragma once

#include <cstddef>

#include "stack/tcp/admission_policy.h"

namespace tapstack::server {

// The policy each of `loops` replicas applies: per_second / loops, burst and the caps
// ceil(x / loops); every other field as given. One loop: the policy itself.
tcp::AdmissionPolicy admission_share(const tcp::AdmissionPolicy& policy, size_t loops);

}  // namespace tapstack::server
