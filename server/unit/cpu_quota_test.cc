// cpu_quota_cores over fake cgroup trees (v2 and v1), found through a fake mountinfo: what
// --busy-poll-us auto looks at. The e2e test runs the daemon under a real v1 quota.
#include "server/cpu_quota.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace tapstack::server {
namespace {

namespace fs = std::filesystem;

class CpuQuota : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("cpu_quota_test." + std::to_string(::getpid()));
    fs::create_directories(root_ / "v2" / "pod" / "container");
    fs::create_directories(root_ / "v1" / "pod" / "container");
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const fs::path& file, const std::string& text) { std::ofstream(root_ / file) << text; }
  // Both hierarchies mounted, as on a hybrid host.
  std::string mountinfo() const {
    return "30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
           "31 30 0:28 / " +
           (root_ / "v1").string() +
           " rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
           "32 30 0:29 / " +
           (root_ / "v2").string() + " rw - cgroup2 cgroup2 rw\n";
  }
  std::optional<double> quota(const std::string& self) {
    return cpu_quota_cores(self, mountinfo());
  }
  fs::path root_;
};

TEST_F(CpuQuota, NoneWithoutALimitAnywhere) {
  write("v2/pod/cpu.max", "max 100000\n");
  write("v1/pod/cpu.cfs_quota_us", "-1\n");
  write("v1/pod/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(quota("2:cpu,cpuacct:/pod/container\n0::/pod/container\n"), std::nullopt);
}

TEST_F(CpuQuota, TheTightestV2LimitOnTheWayToTheRoot) {
  write("v2/pod/cpu.max", "50000 100000\n");  // the pod's limit; none on the container
  write("v2/pod/container/cpu.max", "150000 100000\n");
  EXPECT_EQ(quota("0::/pod/container\n"), 0.5);
}

TEST_F(CpuQuota, AV1LimitCountsToo) {
  write("v1/pod/container/cpu.cfs_quota_us", "25000\n");
  write("v1/pod/container/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(quota("4:cpu,cpuacct:/pod/container\n0::/\n"), 0.25);
}

TEST_F(CpuQuota, InsideACgroupNamespaceTheRootIsTheContainer) {
  write("v2/cpu.max", "200000 100000\n");
  EXPECT_EQ(quota("0::/\n"), 2.0);
}

TEST_F(CpuQuota, NoneForGarbageOrARelativePath) {
  write("v2/pod/cpu.max", "lots 100000\n");
  EXPECT_EQ(quota("0::/pod\n"), std::nullopt);
  EXPECT_EQ(quota("0::pod\n"), std::nullopt);  // the kernel writes absolute paths
  EXPECT_EQ(cpu_quota_cores("0::/pod\n", "garbage\n"), std::nullopt);
}

}  // namespace
}  // namespace tapstack::server
