// The daemon's demo listener in echo or discard mode (--demo-mode): it takes every connection
// from the listener (through an AcceptStream, as StreamAccept does) and serves each on the
// connection's own engine loop, against the engine API as any caller would: echo writes back
// what it reads, discard reads and drops it; both close once the peer has finished. Bounded:
// a session moves at most kDemoTurnBytes per loop turn (the loop's frames and commands run in
// between), and echo reads only what the send buffer has room for, so a session holds no
// bytes beyond the connection's buffers.
#pragma once

#include <memory>

#include "server/accept_stream.h"
#include "server/flags.h"
#include "server/shards.h"

namespace tapstack::server {

class DemoListener final : public AcceptStream::Reader,
                           public std::enable_shared_from_this<DemoListener> {
 public:
  // Serves `listener`'s connections from now on (call from outside the loops).
  static std::shared_ptr<DemoListener> start(Shards& shards, EndpointId listener, DemoMode mode);

  DemoListener(Shards& shards, EndpointId listener, DemoMode mode);
  // Loop thread: connections are ready in the stream.
  void ready() override;

 private:
  Shards& shards_;
  const EndpointId listener_;
  const DemoMode mode_;
  std::shared_ptr<AcceptStream> stream_;
};

}  // namespace tapstack::server
