// A Capture call's request checked and turned into the engine's filter (stack/capture), and a
// listener's binding turned into the filter's port, address and family.
#pragma once

#include <cstdint>
#include <optional>

#include "stack/capture/capture_filter.h"
#include "stack/clock.h"
#include "stack/endpoint_info.h"
#include "stack/status.h"
#include "tapstack/v1/capture.pb.h"

namespace tapstack::server {

inline constexpr size_t kDefaultCaptureRingBytes = 4 << 20;
inline constexpr size_t kMinCaptureRingBytes = 64 << 10;
inline constexpr size_t kMaxCaptureRingBytes = 64 << 20;
inline constexpr uint64_t kMaxCaptureCount = 10'000'000;
inline constexpr Duration kMaxCaptureDuration = std::chrono::hours(24);

struct CaptureOptions {
  EndpointId listener = 0;  // 0: none; else the filter still needs narrow_to_listener()
  capture::FilterSpec filter;
  uint64_t count = 0;                            // 0: no limit
  Duration duration{};                           // 0: no limit
  size_t ring_bytes = kDefaultCaptureRingBytes;  // per engine loop
};

// kInvalidArgument naming what is wrong (the proto's list).
Result<CaptureOptions> parse_capture_request(const v1::CaptureRequest& request);

// A listener's connections are the TCP segments on its port at its address (a port is held by
// one listener per family), of its family when it is bound to 0.0.0.0 or [::] v6-only.
// kFailedPrecondition if `info` is no listener.
Status narrow_to_listener(const EndpointInfo& info, capture::FilterSpec& filter);

}  // namespace tapstack::server
