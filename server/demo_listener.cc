#include "server/demo_listener.h"

#include <vector>

#include "server/data_io.h"
#include "server/data_waiter.h"

namespace tapstack::server {
namespace {

constexpr size_t kDemoChunk = 16 * 1024;       // one read
constexpr size_t kDemoTurnBytes = 256 * 1024;  // then the loop's other work runs
constexpr size_t kDemoAcceptQueue = 64;        // connections taken ahead of their sessions

// One connection of the demo listener; loop thread only.
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
      if (!pending_.empty()) {
        auto n = engine.write(id_, std::span(pending_).subspan(sent_));
        if (!n.is_ok() && !would_block(n.status())) return close(engine, true);
        if (!n.is_ok() || *n == 0) return shard_.hub.wait_data(id_, shared_from_this());
        sent_ += *n;
        moved += *n;
        if (sent_ < pending_.size()) continue;
        pending_.clear();
        sent_ = 0;
      }
      std::span<uint8_t> buffer = read_buffer(kDemoChunk);
      auto n = engine.read(id_, buffer);
      if (!n.is_ok()) {
        if (would_block(n.status())) return shard_.hub.wait_data(id_, shared_from_this());
        return close(engine, true);  // reset: the id is given back
      }
      if (*n == 0) return close(engine, false);  // FIN after everything echoed
      moved += *n;
      if (mode_ == DemoMode::kEcho) echo(engine, buffer.first(*n));
    }
    shard_.loop.post([self = shared_from_this()](Engine& e) { self->serve(e); });
  }

 private:
  void echo(Engine& engine, std::span<const uint8_t> data) {
    auto n = engine.write(id_, data);
    if (!n.is_ok() && !would_block(n.status())) return close(engine, true);
    size_t taken = n.is_ok() ? *n : 0;
    pending_.assign(data.begin() + static_cast<ptrdiff_t>(taken), data.end());
  }

  void close(Engine& engine, bool abort) {
    done_ = true;
    engine.close(id_, abort);
  }

  Shard& shard_;
  const EndpointId id_;
  const DemoMode mode_;
  std::vector<uint8_t> pending_;  // echo: read, not yet taken by the send buffer
  size_t sent_ = 0;               // of pending_
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
