// The one copy of every engine event that WatchEvents watchers read. The engine loop appends
// each event once (a lock, a push and, only when some watcher sleeps, one wake-up of the log's
// notifier thread): it never visits a watcher. Watchers read from the log on gRPC's threads, at
// their own pace, each with its own cursor; a watcher that has read everything parks, and the
// notifier thread (not the loop) resumes the parked ones when events arrive.
//
// Memory: the log holds at most `capacity_bytes` of events in total, however many watchers
// there are (a watcher so far behind that its events were overwritten is told how many it
// lost). With no watcher the log stores nothing, and it frees its storage when the last one
// leaves.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "stack/clock.h"
#include "stack/endpoint_info.h"
#include "tapstack/v1/endpoints.pb.h"

namespace tapstack::server {

struct WatchedEvent {
  uint64_t sequence = 0;
  v1::EndpointEvent::Kind kind = v1::EndpointEvent::KIND_UNSPECIFIED;
  EndpointId endpoint = 0;
  EndpointId listener = 0;
  TcpState state = TcpState::kInitial;
  Duration handshake_duration{};
  // The connection's figures, on the events that carry them (Event::connection): shared, so
  // that an event costs the log a pointer, and a watcher's copy no second snapshot.
  std::shared_ptr<const ConnectionInfo> connection;
};

// What a watcher is sent: an event, or (lost > 0) how many events it lost at this point.
struct WatchItem {
  WatchedEvent event;
  uint64_t lost = 0;
};

// One watcher's position in the log, and its per-watcher queue limit. The watcher's "queue"
// is what the log holds past its cursor: each time it catches up (a drain), it takes at most
// `limit` of the events it wants that were there when the drain began; the rest are counted
// as lost, at the point where they went missing.
struct WatchCursor {
  EndpointId filter = 0;  // only events about this endpoint or this listener's; 0 for all
  size_t limit = 0;
  uint64_t next = 0;       // the next sequence to look at
  uint64_t drain_end = 0;  // the last sequence of the drain under way
  size_t delivered = 0;    // in this drain
  uint64_t lost = 0;       // not yet reported

  bool wants(const WatchedEvent& e) const {
    return filter == 0 || e.endpoint == filter || e.listener == filter;
  }
};

class EventLog {
 public:
  // Resumed by the notifier thread when an event arrives after it parked.
  class Reader {
   public:
    virtual ~Reader() = default;
    virtual void resume() = 0;
  };

  explicit EventLog(size_t capacity_bytes);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // --- Loop thread.
  // Gives `event` the next sequence number and stores it if anyone watches.
  void append(WatchedEvent event);
  // Whether anyone watches now: events appended while nobody does are not stored, so what
  // they would carry need not be made. (With several loops, an event another loop is making
  // just as the first watcher joins may reach it without what it would carry.)
  bool watched() const { return readers_.load(std::memory_order_relaxed) > 0; }
  // A new reader: its cursor starts at the next event. On the loop thread, so that no event
  // is appended between choosing the cursor and counting the reader.
  WatchCursor subscribe(EndpointId filter, size_t limit);

  // --- Any thread.
  void unsubscribe();
  // No more events: parked readers are resumed and read() reports kClosed once they have read
  // what is left.
  void close();

  enum class ReadEnd { kMore, kParked, kClosed };
  // Moves up to `max_items` items for `cursor` into `out`. kParked: nothing new, and `reader`
  // will be resumed when there is; kMore: call again (there may be more, or `out` is full).
  ReadEnd read(WatchCursor& cursor, std::deque<WatchItem>& out, size_t max_items,
               const std::shared_ptr<Reader>& reader);
  // Forgets a parked reader (its call ended).
  void unpark(const Reader* reader);

  size_t stored() const;  // events held now, for tests and metrics

 private:
  void notify_parked();

  const size_t capacity_;  // in events
  mutable std::mutex mutex_;
  std::deque<WatchedEvent> events_;  // sequences last_ - size + 1 .. last_
  uint64_t last_ = 0;                // sequence of the newest event (loop thread writes)
  std::atomic<size_t> readers_{0};
  std::vector<std::shared_ptr<Reader>> parked_;
  bool closed_ = false;
  // The notifier thread.
  std::condition_variable wake_;
  bool wake_pending_ = false;
  bool stopping_ = false;
  std::thread notifier_;
};

}  // namespace tapstack::server
