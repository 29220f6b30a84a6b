#include "server/cpu_quota.h"

#include <fstream>
#include <sstream>

namespace tapstack::server {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "QUOTA PERIOD" or "max PERIOD".
std::optional<double> parse_cpu_max(const std::string& text) {
  std::istringstream in(text);
  std::string quota;
  double period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return std::nullopt;
  try {
    return std::stod(quota) / period;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<double> cpu_quota_cores(const std::string& root, const std::string& self_cgroup) {
  std::string cgroups = self_cgroup.empty() ? read_file("/proc/self/cgroup") : self_cgroup;
  // cgroup v2's line is "0::/path" (inside a cgroup namespace, "0::/").
  std::istringstream lines(cgroups);
  std::string line;
  std::string path;
  while (std::getline(lines, line)) {
    if (line.starts_with("0::")) path = line.substr(3);
  }
  if (path.empty()) return std::nullopt;
  // The tightest limit on the way up to the root: a pod's limit sits on the pod's cgroup, the
  // container's own below it.
  std::optional<double> tightest;
  for (std::string dir = path;; dir = dir.substr(0, dir.rfind('/'))) {
    if (auto q = parse_cpu_max(read_file(root + (dir == "/" ? "" : dir) + "/cpu.max"))) {
      if (!tightest || *q < *tightest) tightest = q;
    }
    if (dir.empty() || dir == "/") break;
  }
  return tightest;
}

}  // namespace tapstack::server
