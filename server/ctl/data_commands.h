// tapstackctl's netcat-like verbs: bytes between stdin/stdout and a connection of tapstackd,
// over the streaming data calls (ReadStream, WriteStream), so that the connection's windows,
// not tapstackctl, decide how fast they flow.
#pragma once

#include <grpcpp/client_context.h>

#include <functional>
#include <memory>

#include "server/ctl/args.h"
#include "tapstack/v1/endpoints.grpc.pb.h"

namespace tapstack::ctl {

struct DataClient {
  v1::Endpoints::Stub& endpoints;
  // A context with the --timeout deadline, or none (streams run until their end).
  std::function<std::unique_ptr<grpc::ClientContext>(bool with_deadline)> context;
  // Prints a failed call's status; returns the exit code.
  std::function<int(const grpc::Status&)> fail;
};

// nc ADDRESS:PORT: connects, copies stdin to the connection (shutting its write side at stdin's
// end) and the connection to stdout, and exits at the connection's end of stream.
int cmd_nc(DataClient& c, Args& args);
// cat ID: the connection's bytes to stdout until its end of stream.
int cmd_cat(DataClient& c, Args& args);
// send ID [--keep-open]: stdin to the connection, then shuts its write side (unless
// --keep-open).
int cmd_send(DataClient& c, Args& args);

}  // namespace tapstack::ctl
