#include "server/heap_trimmer.h"

#include <malloc.h>

namespace tapstack::server {

HeapTrimmer::HeapTrimmer(Duration delay) : delay_(delay), thread_([this] { run(); }) {}

HeapTrimmer::~HeapTrimmer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void HeapTrimmer::request() {
  {
    std::lock_guard lock(mutex_);
    requested_ = true;
  }
  changed_.notify_all();
}

void HeapTrimmer::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return requested_ || stopping_; });
    // Let the calls that asked finish freeing; stopping cuts the wait short.
    if (stopping_ || changed_.wait_for(lock, delay_, [this] { return stopping_; })) return;
    requested_ = false;
    lock.unlock();
    ::malloc_trim(0);  // takes milliseconds: never under the lock
    lock.lock();
  }
}

}  // namespace tapstack::server
