// The SYN shield: the last line of defence, for when a SYN flood comes faster than the engine can
// read and the TAP's queue overflows. SYN cookies keep the engine's memory flat under any flood,
// but a TAP is a queue of 1000 frames in the kernel that drops whatever arrives while it is full,
// and a flood that keeps it full makes legitimate SYNs as likely to be dropped as spoofed ones
// (the kernel's own listener has no such queue: it answers SYNs in the sender's context).
//
// So while the queue overflows, an eBPF filter on the TAP (syn_shield_program.h) drops every SYN
// the first time it is seen and lets its retransmission through: a spoofed flood stops in the
// sender's context before the queue, and a legitimate client connects with exactly one SYN
// retransmission (a second later, on Linux). The shield turns on when the TAP's drop counter
// moves and off when the SYNs it stops fall below what the engine answers comfortably. Outside a
// flood it drops nothing: it looks at each frame's header and notes each SYN in its bitmap (so
// that a SYN the full queue lost just before it came on has its retransmission let through).
// Needs CAP_BPF (or CAP_SYS_ADMIN); where loading eBPF is not allowed, attach() says why and the
// daemon runs without it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "stack/clock.h"
#include "stack/link/bpf.h"
#include "stack/link/syn_shield_program.h"
#include "stack/link/tap_device.h"
#include "stack/status.h"

namespace tapstack::link {

struct SynShieldOptions {
  Duration tick = milliseconds(100);
  // Turn on when the TAP's queue dropped at least this many frames in one tick.
  uint64_t overflow_drops = 64;
  // Turn off once the first SYNs stopped stay below this rate for `calm` (the engine answers
  // 100k SYN/s with cookies without its queue overflowing, README "Benchmarks").
  uint64_t calm_syns_per_second = 100'000;
  Duration calm = seconds(2);
  // How often the remembered SYNs are forgotten. A SYN is remembered for one to two periods, so
  // this must be at least the clients' first retransmission timeout: 1 s on Linux and macOS
  // (RFC 6298), 3 s on Windows. Longer fills the bitmaps more, and more spoofed SYNs then pass.
  Duration generation = seconds(3);
};

struct SynShieldStats {
  bool active = false;
  uint64_t activations = 0;
  uint64_t first_syns_dropped = 0;
  uint64_t retransmissions_passed = 0;

  // f(name, help, value) for each counter, as Stats::for_each_counter does for the engine's.
  template <class F>
  void for_each_counter(F&& f) const {
    f("syn_shield_activations", "Times the SYN shield turned on", activations);
    f("syn_shield_first_syns_dropped", "SYNs the shield dropped in the kernel on first sight",
      first_syns_dropped);
    f("syn_shield_retransmissions_passed", "Retransmitted SYNs the shield let through while on",
      retransmissions_passed);
  }
};

class SynShield {
 public:
  // Loads the filter onto `tap` and starts watching it (a thread that wakes every tick).
  static Result<std::unique_ptr<SynShield>> attach(const TapDevice& tap,
                                                   SynShieldOptions options = {});
  ~SynShield();
  SynShield(const SynShield&) = delete;
  SynShield& operator=(const SynShield&) = delete;

  // Safe from any thread.
  SynShieldStats stats() const;

 private:
  SynShield(std::string tap_name, SynShieldOptions options, SynShieldFilter filter, bpf::Fd tap_fd);
  void run();
  void tick(Time now);
  SynShieldControl& control() const { return filter_.control(); }

  const std::string tap_name_;
  const SynShieldOptions options_;
  SynShieldFilter filter_;
  bpf::Fd tap_fd_;  // a duplicate: the filter is detached through it

  // Watcher thread state.
  uint64_t last_tap_drops_ = 0;
  uint64_t last_dropped_ = 0;
  Time calm_since_{};
  Time generation_started_{};
  std::atomic<uint64_t> activations_{0};

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// Frames the kernel dropped on their way to the TAP's reader (its queue was full), as
// /proc/net/dev of the calling thread's network namespace reports them; nullopt if it has no
// such device.
std::optional<uint64_t> tap_queue_drops(const std::string& tap_name);

}  // namespace tapstack::link
