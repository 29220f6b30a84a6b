#include "server/cpu_quota.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

namespace tapstack::server {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, separator);) out.push_back(item);
  return out;
}

bool has_item(const std::string& list, const std::string& item) {
  for (const std::string& i : split(list, ',')) {
    if (i == item) return true;
  }
  return false;
}

std::optional<double> ratio(const std::string& quota_text, const std::string& period_text) {
  try {
    double quota = std::stod(quota_text);
    double period = std::stod(period_text);
    if (quota <= 0 || period <= 0) return std::nullopt;  // v1's -1: unlimited
    return quota / period;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// v2: cpu.max is "QUOTA PERIOD" or "max PERIOD".
std::optional<double> v2_quota(const std::string& dir) {
  std::istringstream in(read_file(dir + "/cpu.max"));
  std::string quota, period;
  if (!(in >> quota >> period) || quota == "max") return std::nullopt;
  return ratio(quota, period);
}

std::optional<double> v1_quota(const std::string& dir) {
  return ratio(read_file(dir + "/cpu.cfs_quota_us"), read_file(dir + "/cpu.cfs_period_us"));
}

// The tightest quota in `mount` + `path` and each directory above it, up to the mount.
template <class Quota>
std::optional<double> tightest(const std::string& mount, std::string path, Quota quota) {
  if (mount.empty() || !path.starts_with('/')) return std::nullopt;  // the kernel's are absolute
  std::optional<double> best;
  while (true) {
    if (auto q = quota(mount + (path == "/" ? "" : path))) {
      if (!best || *q < *best) best = q;
    }
    if (path == "/") return best;
    size_t slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
}

}  // namespace

std::optional<double> cpu_quota_cores(std::string self_cgroup, std::string mountinfo) {
  if (self_cgroup.empty()) self_cgroup = read_file("/proc/self/cgroup");
  if (mountinfo.empty()) mountinfo = read_file("/proc/self/mountinfo");
  // /proc/self/cgroup: "0::/path" for v2, "N:cpu,cpuacct:/path" for v1 controllers.
  std::string v2_path, v1_path;
  for (const std::string& line : split(self_cgroup, '\n')) {
    auto fields = split(line, ':');
    if (fields.size() < 3) continue;
    std::string path = line.substr(fields[0].size() + fields[1].size() + 2);
    if (fields[0] == "0" && fields[1].empty()) v2_path = path;
    if (has_item(fields[1], "cpu")) v1_path = path;
  }
  // mountinfo: "ID PARENT DEV ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTIONS".
  std::string v2_mount, v1_mount;
  for (const std::string& line : split(mountinfo, '\n')) {
    std::istringstream in(line);
    std::vector<std::string> f;
    for (std::string w; in >> w;) f.push_back(w);
    size_t dash = 0;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (f.size() < 5 || dash + 3 >= f.size()) continue;
    const std::string& fstype = f[dash + 1];
    if (fstype == "cgroup2") v2_mount = f[4];
    if (fstype == "cgroup" && has_item(f[dash + 3], "cpu")) v1_mount = f[4];
  }
  auto v2 = tightest(v2_mount, v2_path, v2_quota);
  auto v1 = tightest(v1_mount, v1_path, v1_quota);
  if (v2 && v1) return std::min(*v2, *v1);
  return v2 ? v2 : v1;
}

}  // namespace tapstack::server
