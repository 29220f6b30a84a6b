// One Capture call on gRPC's callback API. Each engine loop copies the frames the filter takes
// into a ring of this call's (stack/capture); the call drains the rings off the loops, merges
// them by timestamp and writes one batch at a time. While there is nothing to write it looks
// again every 10 ms (an alarm, no thread waits), and right after each write completes, so the
// loops never do reader work and a slow client only fills its rings (and then loses frames,
// counted).
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/support/server_callback.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "server/backend.h"
#include "server/capture_limits.h"
#include "server/capture_request.h"
#include "stack/capture/capture_ring.h"
#include "tapstack/v1/capture.pb.h"

namespace tapstack::server {

class CaptureCall final : public grpc::ServerWriteReactor<v1::CaptureResponse>,
                          public std::enable_shared_from_this<CaptureCall> {
 public:
  // Attaches the capture to every loop (on the calling gRPC thread, one loop turn each), then
  // sends the initial metadata and a first message (no frames yet, unless some came already)
  // to say it is in place, and serves it. The filter must be final (a
  // listener already narrowed).
  static CaptureCall* start(Backend& backend, CaptureLimits& limits, CallLimiter::Slot slot,
                            CaptureLimits::Reservation reservation, const CaptureOptions& options);

  CaptureCall(Backend& backend, CaptureLimits& limits, CallLimiter::Slot slot,
              CaptureLimits::Reservation reservation, const CaptureOptions& options);

 private:
  // Writes the next batch if none is in flight, or ends the call, or waits 10 ms.
  void pump();
  // With a duration: an alarm at its end, which ends the capture even with a write stalled.
  void arm_deadline();
  void expire();
  void detach();

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  Backend& backend_;
  CaptureLimits& limits_;
  CallLimiter::Slot slot_;
  CaptureLimits::Reservation reservation_;
  const CaptureOptions options_;
  const uint64_t id_;
  const std::chrono::steady_clock::time_point deadline_;      // max() without a duration
  std::vector<std::shared_ptr<capture::CaptureRing>> rings_;  // one per loop
  std::shared_ptr<CaptureCall> self_;                         // gRPC's reference, dropped in OnDone
  std::mutex mutex_;
  std::unique_ptr<grpc::Alarm> alarm_;           // guarded by mutex_
  std::unique_ptr<grpc::Alarm> deadline_alarm_;  // guarded by mutex_; with a duration only
  size_t first_ring_ = 0;                        // guarded by mutex_
  v1::CaptureResponse response_;
  std::vector<capture::Frame> batch_;
  uint64_t sent_ = 0;           // frames written
  uint64_t lost_reported_ = 0;  // frames_lost in the last message
  bool writing_ = false;
  bool started_ = false;   // the first message was written
  bool ending_ = false;    // the last message is in flight
  bool finished_ = false;  // Finish called
};

}  // namespace tapstack::server
