#include "server/ctl/capture_command.h"

#include <fcntl.h>
#include <signal.h>
#include <tins/tins.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

namespace tapstack::ctl {
namespace {

std::string_view end_text(v1::CaptureEnd end) {
  switch (end) {
    case v1::CAPTURE_END_COUNT:
      return "count reached";
    case v1::CAPTURE_END_DURATION:
      return "duration reached";
    case v1::CAPTURE_END_SHUTDOWN:
      return "tapstackd shut down";
    default:
      return "stream ended";
  }
}

// Cancels the call on SIGINT or SIGTERM, so that the file is closed whole (libpcap buffers
// it). gRPC's threads may take the signal: the handler only writes to a pipe, and a thread of
// ours reads it and cancels.
class CancelOnSignal {
 public:
  explicit CancelOnSignal(grpc::ClientContext& context) {
    if (pipe2(pipe_, O_CLOEXEC) != 0) return;
    write_end = pipe_[1];
    struct sigaction action {};
    action.sa_flags = SA_RESTART;  // a write to a full pipe goes on, nothing half written
    action.sa_handler = [](int) {
      const char byte = 's';
      [[maybe_unused]] ssize_t n = write(write_end, &byte, 1);
    };
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    waiter_ = std::thread([&context, this] {
      char byte = 0;
      if (read(pipe_[0], &byte, 1) == 1 && byte == 's') {
        interrupted_ = true;
        context.TryCancel();
      }
    });
  }
  ~CancelOnSignal() {
    if (!waiter_.joinable()) return;
    const char byte = 'q';  // wakes the waiter, which then leaves
    [[maybe_unused]] ssize_t n = write(pipe_[1], &byte, 1);
    waiter_.join();
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    close(pipe_[0]);
    close(pipe_[1]);
  }
  bool interrupted() const { return interrupted_; }

 private:
  static inline int write_end = -1;  // the handler's way out
  int pipe_[2] = {-1, -1};
  std::atomic<bool> interrupted_{false};
  std::thread waiter_;
};

}  // namespace

CaptureCommand parse_capture_args(Args& args) {
  CaptureCommand c;
  v1::CaptureRequest& r = c.request;
  if (auto v = args.take_option("--listener")) r.set_listener_id(parse_number("--listener", *v));
  if (auto v = args.take_option("--port")) {
    const uint64_t port = parse_number("--port", *v);
    if (port == 0 || port > 65535) throw UsageError("--port must be 1..65535, not '" + *v + "'");
    r.set_port(static_cast<uint32_t>(port));
  }
  if (auto v = args.take_option("--peer")) r.set_peer(*v);
  if (auto v = args.take_option("--tuple")) {
    const size_t comma = v->find(',');
    if (comma == std::string::npos) {
      throw UsageError("--tuple must be LOCAL:PORT,REMOTE:PORT, not '" + *v + "'");
    }
    HostPort local = parse_host_port("--tuple", std::string_view(*v).substr(0, comma), true);
    HostPort remote = parse_host_port("--tuple", std::string_view(*v).substr(comma + 1), true);
    v1::CaptureTuple* t = r.mutable_tuple();
    t->set_local_address(local.address);
    t->set_local_port(local.port);
    t->set_remote_address(remote.address);
    t->set_remote_port(remote.port);
  }
  const bool all = args.take_switch("--all");
  const bool handshake = args.take_switch("--handshake");
  if (all && handshake) throw UsageError("--all and --handshake exclude each other");
  r.set_mode(handshake ? v1::CAPTURE_MODE_HANDSHAKE : v1::CAPTURE_MODE_ALL);
  if (auto v = args.take_option("--count")) r.set_count(parse_number("--count", *v));
  if (auto v = args.take_option("--duration")) {
    const int64_t ms = parse_duration("--duration", *v).count();
    r.mutable_duration()->set_seconds(ms / 1000);
    r.mutable_duration()->set_nanos(static_cast<int32_t>(ms % 1000) * 1'000'000);
  }
  if (auto v = args.take_option("--ring-bytes")) {
    r.set_ring_bytes(
        static_cast<uint32_t>(std::min<uint64_t>(parse_number("--ring-bytes", *v), UINT32_MAX)));
  }
  // "-w -" is stdout: take it before the positionals, since "-" alone is no flag.
  auto output = args.take_option("-w");
  if (!output || output->empty()) throw UsageError("capture needs -w FILE (or -w - for stdout)");
  c.output = *output;
  args.done();
  return c;
}

int run_capture(v1::Capture::Stub& stub, const CaptureCommand& command,
                std::unique_ptr<grpc::ClientContext> context,
                const std::function<int(const grpc::Status&)>& fail) {
  CancelOnSignal cancel(*context);
  auto reader = stub.Capture(context.get(), command.request);
  // The first message comes once the capture is in place in every engine loop; a refused
  // request ends the call before it, and no file is made.
  v1::CaptureResponse response;
  if (!reader->Read(&response)) return fail(reader->Finish());
  std::optional<Tins::PacketWriter> writer;
  try {
    writer.emplace(command.output, Tins::DataLinkType<Tins::EthernetII>());
  } catch (const std::exception& e) {
    context->TryCancel();
    reader->Finish();
    std::cerr << "tapstackctl: cannot write " << command.output << ": " << e.what() << "\n";
    return kExitUsage;
  }
  std::cerr << "capturing, writing " << (command.output == "-" ? "stdout" : command.output)
            << std::endl;
  uint64_t frames = 0;
  uint64_t lost = 0;
  v1::CaptureEnd end = v1::CAPTURE_END_NONE;
  do {
    for (const v1::CapturedFrame& f : response.frames()) {
      const auto* bytes = reinterpret_cast<const uint8_t*>(f.data().data());
      Tins::RawPDU raw(bytes, static_cast<uint32_t>(f.data().size()));
      Tins::Packet packet(raw,
                          Tins::Timestamp(std::chrono::microseconds(f.timestamp_unix_ns() / 1000)));
      writer->write(packet);
    }
    frames += response.frames_size();
    lost = response.frames_lost();
    end = response.end();
    std::fflush(nullptr);  // each batch readable at once, by a file's reader or a pipe's
  } while (reader->Read(&response));
  grpc::Status status = reader->Finish();
  writer.reset();
  const bool interrupted =
      cancel.interrupted() && status.error_code() == grpc::StatusCode::CANCELLED;
  if (!status.ok() && !interrupted) return fail(status);
  std::cerr << frames << " frames captured, " << lost << " lost ("
            << (interrupted ? "interrupted" : end_text(end)) << ")" << std::endl;
  return 0;
}

}  // namespace tapstack::ctl
