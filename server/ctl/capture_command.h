// tapstackctl capture: a Capture call's frames into a pcap file (or stdout) that tcpdump and
// Wireshark read, written with libtins' PacketWriter byte for byte as captured.
#pragma once

#include <grpcpp/client_context.h>

#include <functional>
#include <memory>
#include <string>

#include "server/ctl/args.h"
#include "tapstack/v1/capture.grpc.pb.h"

namespace tapstack::ctl {

struct CaptureCommand {
  v1::CaptureRequest request;
  std::string output;  // a file name, or "-" for stdout
};

// [--listener ID|--port P] [--peer PREFIX] [--tuple LOCAL:PORT,REMOTE:PORT] [--all|--handshake]
// [--count N] [--duration D] [--ring-bytes N] -w FILE|-. Throws UsageError; the server checks
// ranges (INVALID_ARGUMENT).
CaptureCommand parse_capture_args(Args& args);

// Streams the capture into the file until it ends (count, duration, the daemon's shutdown) or
// SIGINT/SIGTERM; prints what it did on stderr. Returns the exit code (`fail` for a failed call).
int run_capture(v1::Capture::Stub& stub, const CaptureCommand& command,
                std::unique_ptr<grpc::ClientContext> context,
                const std::function<int(const grpc::Status&)>& fail);

}  // namespace tapstack::ctl
