// cpu_quota_cores over a fake cgroup2 tree: what --busy-poll-us auto looks at.
#include "server/cpu_quota.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace tapstack::server {
namespace {

namespace fs = std::filesystem;

class CpuQuota : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("cpu_quota_test." + std::to_string(::getpid()));
    fs::create_directories(root_ / "pod" / "container");
  }
  void TearDown() override { fs::remove_all(root_); }
  void write_cpu_max(const fs::path& dir, const std::string& text) {
    std::ofstream(root_ / dir / "cpu.max") << text;
  }
  std::optional<double> quota(const std::string& self) {
    return cpu_quota_cores(root_.string(), self);
  }
  fs::path root_;
};

TEST_F(CpuQuota, NoneWithoutALimitAnywhere) {
  write_cpu_max("pod", "max 100000\n");
  write_cpu_max("pod/container", "max 100000\n");
  EXPECT_EQ(quota("0::/pod/container\n"), std::nullopt);
}

TEST_F(CpuQuota, TheTightestLimitOnTheWayToTheRoot) {
  write_cpu_max("pod", "50000 100000\n");
  write_cpu_max("pod/container", "150000 100000\n");
  EXPECT_EQ(quota("12:cpu:/ignored\n0::/pod/container\n"), 0.5);
}

TEST_F(CpuQuota, InsideACgroupNamespaceTheRootIsTheContainer) {
  write_cpu_max("", "200000 100000\n");
  EXPECT_EQ(quota("0::/\n"), 2.0);
}

TEST_F(CpuQuota, NoneWithoutCgroupV2OrWithGarbage) {
  EXPECT_EQ(quota("4:memory:/x\n"), std::nullopt);
  write_cpu_max("pod", "lots 100000\n");
  EXPECT_EQ(quota("0::/pod\n"), std::nullopt);
}

}  // namespace
}  // namespace tapstack::server
