// The shared event log: one copy of each event, each reader's cursor and queue limit, losses
// counted where they happen, parked readers resumed off the appending thread.
#include "server/event_log.h"

#include <gtest/gtest.h>

#include <condition_variable>

namespace tapstack::server {
namespace {

using namespace std::chrono_literals;

struct FlagReader : EventLog::Reader {
  void resume() override {
    std::lock_guard lock(mutex);
    ++resumed;
    cv.notify_all();
  }
  bool wait_resumed(int n) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, 2s, [&] { return resumed >= n; });
  }
  std::mutex mutex;
  std::condition_variable cv;
  int resumed = 0;
};

WatchedEvent event(EndpointId endpoint, EndpointId listener = 0) {
  WatchedEvent e;
  e.kind = v1::EndpointEvent::KIND_STATE_CHANGED;
  e.endpoint = endpoint;
  e.listener = listener;
  return e;
}

// Reads everything available for `cursor` (the reader is parked at the end).
std::deque<WatchItem> drain(EventLog& log, WatchCursor& cursor,
                            const std::shared_ptr<EventLog::Reader>& reader) {
  std::deque<WatchItem> out;
  while (true) {
    std::deque<WatchItem> batch;
    EventLog::ReadEnd end = log.read(cursor, batch, 1000, reader);
    out.insert(out.end(), batch.begin(), batch.end());
    if (end != EventLog::ReadEnd::kMore) return out;
  }
}

TEST(EventLog, StoresNothingWithoutReaders) {
  EventLog log(1 << 20);
  log.append(event(1));
  EXPECT_EQ(log.stored(), 0u);
  log.subscribe(0, 10);
  log.append(event(2));
  EXPECT_EQ(log.stored(), 1u);
  log.unsubscribe();
  EXPECT_EQ(log.stored(), 0u);  // the last reader leaving frees the storage
}

TEST(EventLog, ReaderGetsEventsFromItsSubscriptionInOrder) {
  EventLog log(1 << 20);
  log.append(event(1));  // before: not for this reader
  WatchCursor c = log.subscribe(0, 10);
  auto reader = std::make_shared<FlagReader>();
  for (EndpointId id = 2; id <= 4; ++id) log.append(event(id));
  auto items = drain(log, c, reader);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].event.sequence, 2u);
  EXPECT_EQ(items[2].event.endpoint, 4u);
  log.unsubscribe();
}

TEST(EventLog, QueueLimitDropsNewestAndCountsThem) {
  EventLog log(1 << 20);
  WatchCursor c = log.subscribe(0, 2);
  auto reader = std::make_shared<FlagReader>();
  for (EndpointId id = 1; id <= 5; ++id) log.append(event(id));
  auto items = drain(log, c, reader);
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].event.sequence, 1u);
  EXPECT_EQ(items[1].event.sequence, 2u);
  EXPECT_EQ(items[2].lost, 3u);
  log.append(event(6));
  items = drain(log, c, reader);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].event.sequence, 6u);
  log.unsubscribe();
}

TEST(EventLog, FilteredReaderCountsOnlyWhatItWants) {
  EventLog log(1 << 20);
  WatchCursor c = log.subscribe(7, 1);
  auto reader = std::make_shared<FlagReader>();
  log.append(event(7));
  log.append(event(8));     // not wanted: no loss
  log.append(event(9, 7));  // a connection of listener 7: wanted, over the limit
  auto items = drain(log, c, reader);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].event.endpoint, 7u);
  EXPECT_EQ(items[1].lost, 1u);
  log.unsubscribe();
}

TEST(EventLog, TotalCapacityBoundsEveryReaderAndCountsOverwrites) {
  EventLog log(4 * sizeof(WatchedEvent));  // four events for all readers together
  WatchCursor slow = log.subscribe(0, 1000);
  WatchCursor other = log.subscribe(0, 1000);
  auto reader = std::make_shared<FlagReader>();
  for (EndpointId id = 1; id <= 10; ++id) log.append(event(id));
  EXPECT_EQ(log.stored(), 4u);
  auto items = drain(log, slow, reader);
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].lost, 6u);
  EXPECT_EQ(items[1].event.sequence, 7u);
  EXPECT_EQ(drain(log, other, reader).size(), 5u);
  log.unsubscribe();
  log.unsubscribe();
}

TEST(EventLog, ParkedReaderIsResumedAndClosedLogEnds) {
  EventLog log(1 << 20);
  WatchCursor c = log.subscribe(0, 10);
  auto reader = std::make_shared<FlagReader>();
  std::deque<WatchItem> out;
  EXPECT_EQ(log.read(c, out, 10, reader), EventLog::ReadEnd::kParked);
  log.append(event(1));
  EXPECT_TRUE(reader->wait_resumed(1));
  EXPECT_EQ(log.read(c, out, 10, reader), EventLog::ReadEnd::kMore);
  ASSERT_EQ(out.size(), 1u);
  out.clear();
  EXPECT_EQ(log.read(c, out, 10, reader), EventLog::ReadEnd::kParked);
  log.close();
  EXPECT_TRUE(reader->wait_resumed(2));
  EXPECT_EQ(log.read(c, out, 10, reader), EventLog::ReadEnd::kClosed);
  log.unsubscribe();
}

}  // namespace
}  // namespace tapstack::server
