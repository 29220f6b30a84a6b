#include "server/event_log.h"

#include <algorithm>

namespace tapstack::server {
namespace {

// Events looked at per read() call: bounds how long a filtered watcher holds the lock that the
// loop's append() takes.
constexpr size_t kMaxScan = 1024;

}  // namespace

EventLog::EventLog(size_t capacity_bytes)
    : capacity_(std::max<size_t>(1, capacity_bytes / sizeof(WatchedEvent))),
      notifier_([this] { notify_parked(); }) {}

EventLog::~EventLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  notifier_.join();
}

void EventLog::append(WatchedEvent event) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    event.sequence = ++last_;
    if (readers_.load(std::memory_order_relaxed) == 0) return;
    events_.push_back(event);
    if (events_.size() > capacity_) events_.pop_front();
    if (!parked_.empty() && !wake_pending_) wake = wake_pending_ = true;
  }
  if (wake) wake_.notify_one();
}

WatchCursor EventLog::subscribe(EndpointId filter, size_t limit) {
  std::lock_guard lock(mutex_);
  readers_.fetch_add(1, std::memory_order_relaxed);
  WatchCursor cursor;
  cursor.filter = filter;
  cursor.limit = limit;
  cursor.next = last_ + 1;
  cursor.drain_end = last_;
  return cursor;
}

void EventLog::unsubscribe() {
  std::lock_guard lock(mutex_);
  if (readers_.fetch_sub(1, std::memory_order_relaxed) == 1) {
    std::deque<WatchedEvent>().swap(events_);  // give the memory back, not just the elements
  }
}

void EventLog::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    wake_pending_ = true;
  }
  wake_.notify_one();
}

EventLog::ReadEnd EventLog::read(WatchCursor& c, std::deque<WatchItem>& out, size_t max_items,
                                 const std::shared_ptr<Reader>& reader) {
  std::lock_guard lock(mutex_);
  const uint64_t first = last_ + 1 - events_.size();
  if (c.next < first) {  // overwritten before this watcher read them
    c.lost += first - c.next;
    c.next = first;
  }
  if (c.drain_end < c.next) {  // caught up: a new drain takes what is there now
    c.drain_end = last_;
    c.delivered = 0;
  }
  for (size_t scanned = 0; c.next <= c.drain_end && out.size() + 1 < max_items; ++scanned) {
    if (scanned == kMaxScan) return ReadEnd::kMore;
    const WatchedEvent& e = events_[c.next++ - first];
    if (!c.wants(e)) continue;
    if (c.delivered == c.limit) {
      ++c.lost;
      continue;
    }
    if (c.lost > 0) out.push_back({{}, std::exchange(c.lost, 0)});
    out.push_back({e, 0});
    ++c.delivered;
  }
  if (c.next > c.drain_end && c.lost > 0) out.push_back({{}, std::exchange(c.lost, 0)});
  if (!out.empty()) return ReadEnd::kMore;
  if (c.next <= last_) return ReadEnd::kMore;
  if (closed_) return ReadEnd::kClosed;
  parked_.push_back(reader);
  return ReadEnd::kParked;
}

void EventLog::unpark(const Reader* reader) {
  std::lock_guard lock(mutex_);
  std::erase_if(parked_, [&](const auto& r) { return r.get() == reader; });
}

size_t EventLog::stored() const {
  std::lock_guard lock(mutex_);
  return events_.size();
}

void EventLog::notify_parked() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return wake_pending_ || stopping_; });
    if (stopping_) return;
    wake_pending_ = false;
    std::vector<std::shared_ptr<Reader>> resumed;
    resumed.swap(parked_);
    lock.unlock();
    for (const auto& r : resumed) r->resume();
    resumed.clear();  // a reader whose call ended may be destroyed here, outside the lock
    lock.lock();
  }
}

}  // namespace tapstack::server
