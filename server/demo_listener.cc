#include "server/demo_listener.h"

#include <algorithm>
#include <cassert>

#include "server/data_io.h"
#include "server/data_waiter.h"

namespace tapstack::server {
namespace {

// One read: as much as a TSO frame carries, so that what echo writes back leaves in frames as
// large as the link takes.
constexpr size_t kDemoChunk = 64 * 1024;
constexpr size_t kDemoTurnBytes = 256 * 1024;  // then the loop's other work runs
constexpr size_t kDemoAcceptQueue = 64;        // connections taken ahead of their sessions

// One connection of the demo listener; loop thread only. Echo reads no more than the send
// buffer has room for, so a session holds no bytes of its own: its memory is the connection's
// buffers.
class DemoSession final : public DataWaiter, public std::enable_shared_from_this<DemoSession> {
 public:
  DemoSession(Shard& shard, EndpointId id, DemoMode mode) : shard_(shard), id_(id), mode_(mode) {}

  void retry(Engine& engine) override { serve(engine); }
  void end(const grpc::Status&) override { done_ = true; }
  bool waiting() const override { return !done_; }

  // Moves bytes until the connection would block, or kDemoTurnBytes have moved (it then goes on
  // in a later turn).
  void serve(Engine& engine) {
    if (done_) return;
    size_t moved = 0;
    while (moved < kDemoTurnBytes) {
      size_t want = kDemoChunk;
      if (mode_ == DemoMode::kEcho) {
        auto room = engine.send_room(id_);
        if (!room.is_ok()) return blocked(engine, room.status());
        want = std::min(want, *room);
      }
      std::span<uint8_t> buffer = read_buffer(want);
      auto n = engine.read(id_, buffer);
      if (!n.is_ok()) return blocked(engine, n.status());
      if (*n == 0) return close(engine, false);  // FIN after everything echoed
      moved += *n;
      if (mode_ == DemoMode::kEcho) {
        // Takes it all: the room was there, and nothing ran in between.
        auto taken = engine.write(id_, buffer.first(*n));
        if (!taken.is_ok()) return close(engine, true);
        assert(*taken == *n);
      }
    }
    shard_.loop.post([self = shared_from_this()](Engine& e) { self->serve(e); });
  }

 private:
  // Waits for the connection's next event if `status` says it would block; else the connection
  // failed (reset, timed out): abort it, which gives the id back.
  void blocked(Engine& engine, const Status& status) {
    if (would_block(status)) return shard_.hub.wait_data(id_, shared_from_this());
    close(engine, true);
  }

  void close(Engine& engine, bool abort) {
    done_ = true;
    engine.close(id_, abort);
  }

  Shard& shard_;
  const EndpointId id_;
  const DemoMode mode_;
  bool done_ = false;
};

}  // namespace

std::shared_ptr<DemoListener> DemoListener::start(Shards& shards, EndpointId listener,
                                                  DemoMode mode) {
  auto demo = std::make_shared<DemoListener>(shards, listener, mode);
  demo->stream_->set_reader(demo);
  demo->ready();  // nothing yet: the stream wakes it when something is
  for (Shard& shard : shards) {
    shard.loop.call(
        [&](Engine& engine) { shard.hub.add_accept_stream(engine, listener, demo->stream_); });
  }
  return demo;
}

DemoListener::DemoListener(Shards& shards, EndpointId listener, DemoMode mode)
    : shards_(shards),
      listener_(listener),
      mode_(mode),
      stream_(std::make_shared<AcceptStream>(AfterAccept::kKeep, 0, kDemoAcceptQueue, true)) {}

void DemoListener::ready() {
  while (std::optional<AcceptStream::Batch> batch = stream_->take()) {
    for (const EndpointInfo& connection : batch->connections) {
      Shard& shard = shards_.of(connection.id);
      auto session = std::make_shared<DemoSession>(shard, connection.id, mode_);
      // Data may have arrived before: the session reads first, then waits for events.
      shard.loop.post([session](Engine& engine) { session->serve(engine); });
    }
    if (batch->freed_room) {
      for (Shard& shard : shards_) {
        shard.loop.post(
            [&hub = shard.hub, id = listener_](Engine& engine) { hub.serve_listener(engine, id); });
      }
    }
    if (batch->end || batch->connections.empty()) return;
  }
}

}  // namespace tapstack::server
