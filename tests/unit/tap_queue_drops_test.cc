// tap_queue_drops reads the transmit-drop column of /proc/net/dev: frames the full TAP queue lost.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "stack/link/tap_queue_drops.h"

namespace tapstack::link {
namespace {

// The twelfth number on `name`'s line, read independently: /proc/net/dev's own header names the
// columns, and transmit "drop" is the fourth of the transmit group.
std::optional<uint64_t> column_by_header(const std::string& name) {
  std::ifstream dev("/proc/net/dev");
  std::string header1, header2, line;
  std::getline(dev, header1);
  std::getline(dev, header2);  // " face |bytes packets errs drop ... |bytes packets errs drop ..."
  EXPECT_NE(header2.find("|bytes    packets errs drop"), std::string::npos) << header2;
  while (std::getline(dev, line)) {
    std::istringstream in(line);
    std::string face;
    in >> face;
    if (face != name + ":") continue;
    uint64_t v = 0;
    for (int i = 0; i < 12; ++i) in >> v;
    return v;
  }
  return std::nullopt;
}

TEST(TapQueueDrops, ReadsTheTransmitDropColumnOfTheNamedDevice) {
  auto drops = tap_queue_drops("lo");  // every network namespace has it
  ASSERT_TRUE(drops.has_value());
  EXPECT_EQ(drops, column_by_header("lo"));
}

TEST(TapQueueDrops, ADeviceThatIsNotThereHasNone) {
  EXPECT_FALSE(tap_queue_drops("tsnone0").has_value());
  EXPECT_FALSE(tap_queue_drops("l").has_value()) << "a prefix of a name is not the name";
}

}  // namespace
}  // namespace tapstack::link
