// The CPU quota the daemon's cgroup (v2) runs under, if any: Kubernetes' CPU limit becomes
// cpu.max. A quota is shared by all the cgroup's threads, so a loop that spins between frames
// spends it for the gRPC threads too, and the cgroup is throttled: --busy-poll-us auto does not
// spin under one.
#pragma once

#include <optional>
#include <string>

namespace tapstack::server {

// Cores' worth of quota (cpu.max's quota / period), or nothing when unlimited or unknown.
// `root` is where cgroup2 is mounted; `self_cgroup` the contents of /proc/self/cgroup.
std::optional<double> cpu_quota_cores(const std::string& root = "/sys/fs/cgroup",
                                      const std::string& self_cgroup = "");

}  // namespace tapstack::server
