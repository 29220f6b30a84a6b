// A streaming call answered at once with a status and no message (a refused or invalid
// WatchEvents, StreamAccept, ReadStream, WriteStream or health Watch).
#pragma once

#include <grpcpp/support/server_callback.h>

namespace tapstack::server {

template <class Response>
class FinishedStream final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FinishedStream(const grpc::Status& status) { this->Finish(status); }

 private:
  void OnDone() override { delete this; }
};

template <class Response>
grpc::ServerWriteReactor<Response>* finished_stream(const grpc::Status& status) {
  return new FinishedStream<Response>(status);
}

template <class Request>
class FinishedReadStream final : public grpc::ServerReadReactor<Request> {
 public:
  explicit FinishedReadStream(const grpc::Status& status) { this->Finish(status); }

 private:
  void OnDone() override { delete this; }
};

// A client-streaming call answered at once.
template <class Request>
grpc::ServerReadReactor<Request>* finished_read_stream(const grpc::Status& status) {
  return new FinishedReadStream<Request>(status);
}

}  // namespace tapstack::server
