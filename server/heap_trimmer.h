// Gives freed heap back to the kernel (malloc_trim) a moment after it is asked to, on a thread
// of its own. The calls whose end asks for it are still being torn down by gRPC when they ask
// (a call's arena is freed after its reactor's OnDone returns), so a trim right there would miss
// them; requests that arrive during the delay are served by one trim.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "stack/clock.h"

namespace tapstack::server {

class HeapTrimmer {
 public:
  explicit HeapTrimmer(Duration delay);
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  void request();

 private:
  void run();

  const Duration delay_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool requested_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the rest is initialised
};

}  // namespace tapstack::server
