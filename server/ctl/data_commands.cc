#include "server/ctl/data_commands.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

namespace tapstack::ctl {
namespace {

constexpr size_t kStdinChunk = 64 * 1024;  // one WriteStream message per read of stdin

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// The connection's bytes to stdout, until its end of stream (OK) or an error. A stdout that
// went away (a closed pipe) ends it with CANCELLED, quietly.
grpc::Status copy_to_stdout(DataClient& c, uint64_t id) {
  v1::ReadStreamRequest request;
  request.set_id(id);
  auto ctx = c.context(false);
  auto reader = c.endpoints.ReadStream(ctx.get(), request);
  v1::ReadStreamResponse message;
  while (reader->Read(&message)) {
    if (!write_all(STDOUT_FILENO, message.data())) {
      ctx->TryCancel();
      reader->Finish();
      return {grpc::StatusCode::CANCELLED, "stdout closed"};
    }
  }
  return reader->Finish();
}

// stdin to the connection, until stdin's end; then shuts the connection's write side unless
// `keep_open`.
grpc::Status copy_from_stdin(DataClient& c, uint64_t id, bool keep_open) {
  auto ctx = c.context(false);
  v1::WriteStreamResponse response;
  auto writer = c.endpoints.WriteStream(ctx.get(), &response);
  v1::WriteStreamRequest message;
  message.set_id(id);
  std::string buffer(kStdinChunk, '\0');
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end (or an unreadable stdin: ended as well)
    message.set_data(buffer.data(), static_cast<size_t>(n));
    if (!writer->Write(message)) break;  // the server ended the call: Finish says why
    message.clear_id();
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok() || keep_open) return status;
  v1::ShutdownRequest shutdown;
  shutdown.set_id(id);
  v1::ShutdownResponse done;
  auto shutdown_ctx = c.context(true);
  return c.endpoints.Shutdown(shutdown_ctx.get(), shutdown, &done);
}

int exit_code(DataClient& c, const grpc::Status& status) {
  if (status.ok()) return 0;
  if (status.error_code() == grpc::StatusCode::CANCELLED) return 0;  // stdout went away
  return c.fail(status);
}

}  // namespace

int cmd_nc(DataClient& c, Args& args) {
  HostPort remote = parse_host_port("ADDRESS:PORT", args.next("ADDRESS:PORT"), true);
  args.done();
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is an error from write(), not a signal
  v1::Endpoint endpoint;
  {
    auto ctx = c.context(true);
    grpc::Status s = c.endpoints.CreateEndpoint(ctx.get(), {}, &endpoint);
    if (!s.ok()) return c.fail(s);
  }
  const uint64_t id = endpoint.id();
  auto close = [&](bool abort) {
    v1::CloseRequest request;
    request.set_id(id);
    request.set_abort(abort);
    v1::CloseResponse response;
    auto ctx = c.context(true);
    c.endpoints.Close(ctx.get(), request, &response);
  };
  v1::ConnectRequest connect;
  connect.set_id(id);
  connect.mutable_remote()->set_address(remote.address);
  connect.mutable_remote()->set_port(remote.port);
  {
    auto ctx = c.context(true);
    grpc::Status s = c.endpoints.Connect(ctx.get(), connect, &endpoint);
    if (!s.ok()) {
      close(true);
      return c.fail(s);
    }
  }
  grpc::Status sent;
  std::atomic<bool> sending_done = false;
  std::thread sender([&] {
    sent = copy_from_stdin(c, id, false);
    sending_done = true;
  });
  grpc::Status received = copy_to_stdout(c, id);
  // The read side ended: done, as nc is, whether or not stdin has ended too. A sender still
  // blocked in read(stdin) is left behind: the process exits under it.
  close(!received.ok());
  if (!sending_done) {
    sender.detach();
    std::_Exit(exit_code(c, received));
  }
  sender.join();
  if (!received.ok()) return exit_code(c, received);
  return exit_code(c, sent);
}

int cmd_cat(DataClient& c, Args& args) {
  uint64_t id = parse_number("ID", args.next("ID"));
  args.done();
  std::signal(SIGPIPE, SIG_IGN);
  return exit_code(c, copy_to_stdout(c, id));
}

int cmd_send(DataClient& c, Args& args) {
  bool keep_open = args.take_switch("--keep-open");
  uint64_t id = parse_number("ID", args.next("ID"));
  args.done();
  return exit_code(c, copy_from_stdin(c, id, keep_open));
}

}  // namespace tapstack::ctl
