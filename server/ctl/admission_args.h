// tapstackctl's admission policy flags, shared by `listen` and `policy set`:
//   --allow PREFIX[,PREFIX...]   (repeatable)   --deny PREFIX[,PREFIX...]   (repeatable)
//   --syn-rate RATE[/BURST]      SYNs a second per source prefix (RATE may be a fraction);
//                                BURST defaults to RATE rounded up (a second's worth), at least 1
//   --max-half-open N            --max-connections N            --source-table N
//   --source-prefix V4/V6        the per-source prefix lengths, e.g. 24/64; either side may be
//                                left out ("/56", "28" or "28/")
//   --refuse rst|silence         every rule's refusal; --list-refusal, --rate-refusal and
//                                --cap-refusal set one group's, over --refuse
// Prefixes are passed on as text: the server checks them (INVALID_ARGUMENT names the field).
#pragma once

#include "server/ctl/args.h"
#include "tapstack/v1/endpoints.pb.h"

namespace tapstack::ctl {

// Takes the flags out of `args` into `policy`; whether any was there. Throws UsageError.
bool take_admission_flags(Args& args, v1::AdmissionPolicy& policy);

// The usage lines of those flags, for usage().
inline constexpr std::string_view kAdmissionFlagsUsage =
    R"(                                  admission policy: [--allow PREFIX] [--deny PREFIX]
                                  (each repeatable, or comma-separated; 198.18.0.0/15,
                                  2001:db8::/32) [--syn-rate RATE[/BURST]] (SYNs a second
                                  per source prefix; BURST: RATE rounded up)
                                  [--max-half-open N] [--max-connections N] (per source
                                  prefix) [--source-prefix V4/V6] (default 24/64)
                                  [--source-table N] (prefixes tracked, default 16384)
                                  [--refuse rst|silence] (every rule; or per group:
                                  --list-refusal, --rate-refusal, --cap-refusal; defaults:
                                  lists rst, rate silence, caps rst)
)";

}  // namespace tapstack::ctl
