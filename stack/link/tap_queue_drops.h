// The TAP's queue toward our reader holds txqueuelen frames (1000 by default); what arrives while
// it is full the kernel drops and counts as the device's transmit drops. Exported as a metric:
// frames lost there never reach the engine, so none of its counters sees them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace tapstack::link {

// Frames the kernel dropped on their way to the TAP's reader (its queue was full), as
// /proc/net/dev of the calling thread's network namespace reports them; nullopt if it has no
// such device.
std::optional<uint64_t> tap_queue_drops(const std::string& tap_name);

}  // namespace tapstack::link
