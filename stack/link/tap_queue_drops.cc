#include "stack/link/tap_queue_drops.h"

#include <fstream>
#include <sstream>

namespace tapstack::link {

std::optional<uint64_t> tap_queue_drops(const std::string& tap_name) {
  std::ifstream dev("/proc/net/dev");
  std::string line;
  const std::string prefix = tap_name + ":";
  while (std::getline(dev, line)) {
    size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos || line.compare(start, prefix.size(), prefix) != 0) continue;
    // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets
    // errs drop... The kernel transmits to the TAP's reader, so its drops are transmit drops.
    std::istringstream fields(line.substr(start + prefix.size()));
    uint64_t value = 0;
    int read = 0;
    while (read < 12 && fields >> value) ++read;
    if (read == 12) return value;  // the twelfth: transmit drops
  }
  return std::nullopt;
}

}  // namespace tapstack::link
