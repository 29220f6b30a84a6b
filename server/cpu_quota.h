// The CPU quota the daemon's cgroup runs under, if any: Kubernetes' CPU limit becomes cgroup
// v2's cpu.max, or v1's cpu.cfs_quota_us on older nodes. A quota is shared by all the cgroup's
// threads, so a loop that spins between frames spends it for the gRPC threads too, and the
// cgroup is throttled: --busy-poll-us auto does not spin under one. Read once, at startup.
#pragma once

#include <optional>
#include <string>

namespace tapstack::server {

// Cores' worth of quota (quota / period), the tightest on the way from the daemon's cgroup up to
// the root, in v2 and in v1's cpu controller; nothing when unlimited or unknown. `self_cgroup`
// and `mountinfo` are the contents of /proc/self/cgroup and /proc/self/mountinfo (where the
// hierarchies are mounted); empty: read them.
std::optional<double> cpu_quota_cores(std::string self_cgroup = {}, std::string mountinfo = {});

}  // namespace tapstack::server
