// The Capture service (proto/tapstack/v1/capture.proto): checks a request, resolves a listener
// to its binding, takes a share of the capture limits and starts a CaptureCall.
#pragma once

#include "server/backend.h"
#include "server/capture_limits.h"
#include "tapstack/v1/capture.grpc.pb.h"

namespace tapstack::server {

class CaptureService final : public v1::Capture::CallbackService {
 public:
  CaptureService(Backend& backend, CaptureLimits& limits) : backend_(backend), limits_(limits) {}

  grpc::ServerWriteReactor<v1::CaptureResponse>* Capture(
      grpc::CallbackServerContext* ctx, const v1::CaptureRequest* request) override;

 private:
  Backend& backend_;
  CaptureLimits& limits_;
};

}  // namespace tapstack::server
