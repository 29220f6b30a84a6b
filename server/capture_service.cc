#include "server/capture_service.h"

#include "server/capture_call.h"
#include "server/finished_stream.h"
#include "server/proto_convert.h"

namespace tapstack::server {

grpc::ServerWriteReactor<v1::CaptureResponse>* CaptureService::Capture(
    grpc::CallbackServerContext* ctx, const v1::CaptureRequest* request) {
  using Finished = grpc::ServerWriteReactor<v1::CaptureResponse>;
  const auto refuse = [](const grpc::Status& status) -> Finished* {
    return finished_stream<v1::CaptureResponse>(status);
  };
  CallLimiter::Slot slot = backend_.admit(*ctx);
  if (!slot.ok()) return refuse(slot.status());
  Result<CaptureOptions> parsed = parse_capture_request(*request);
  if (!parsed.is_ok()) return refuse(to_grpc(parsed.status()));
  CaptureOptions options = std::move(parsed.value());
  if (options.listener) {
    // A listener's binding is the same in every loop (its replicas'), so its owner's will do.
    const EndpointId id = options.listener;
    Status narrowed = backend_.shards.of(id).loop.call([&](Engine& engine) {
      auto info = engine.query(id);
      return info.is_ok() ? narrow_to_listener(*info, options.filter) : info.status();
    });
    if (!narrowed.is_ok()) return refuse(to_grpc(narrowed));
  }
  CaptureLimits::Reservation reservation;
  grpc::Status reserved = limits_.reserve(options.ring_bytes * backend_.shards.size(), reservation);
  if (!reserved.ok()) return refuse(reserved);
  return CaptureCall::start(backend_, limits_, std::move(slot), std::move(reservation), options);
}

}  // namespace tapstack::server
