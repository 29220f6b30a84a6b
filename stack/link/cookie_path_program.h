// The kernel cookie path (stack/link/bpf/cookie_path.bpf.c) loaded with libbpf: a tc egress
// program on the TAP that answers SYNs to listeners in cookie mode with exactly the SYN-ACK the
// engine would send, and checks their cookie ACKs, in the sender's context, before the frames
// reach the TAP's queue. Its maps are mapped into this process: the engine writes its side
// (tcp::CookiePath) with plain stores, and reads the per-listener counters the same way.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "stack/status.h"
#include "stack/tcp/cookie_path.h"

struct cookie_path_bpf;  // the skeleton bpftool generates (cookie_path.skel.h)

namespace tapstack::link {

// What the program did with frames it did not count per listener (the "stats" map, summed over
// the CPUs): enum cookie_path_stat.
struct CookiePathStats {
  uint64_t bad_checksum = 0;
  uint64_t invalid_source = 0;
  uint64_t ignored = 0;
  uint64_t resets = 0;
  uint64_t closed_port_resets = 0;  // of resets
  uint64_t no_route = 0;
};

// One BPF_PROG_TEST_RUN of the program on a frame of the caller's.
struct CookiePathTestRun {
  int verdict = 0;             // TC_ACT_OK (pass), TC_ACT_SHOT (drop) or TC_ACT_REDIRECT (answer)
  std::vector<uint8_t> frame;  // the frame as the program left it: the answer when redirected
  uint32_t duration_ns = 0;    // the kernel's mean time per run
};

class CookiePathProgram {
 public:
  // Opens and loads the program and maps its three shared maps. Needs CAP_BPF (or
  // CAP_SYS_ADMIN); the error says what is missing.
  static Result<std::unique_ptr<CookiePathProgram>> load();
  ~CookiePathProgram();
  CookiePathProgram(const CookiePathProgram&) = delete;
  CookiePathProgram& operator=(const CookiePathProgram&) = delete;

  // The shared memory, for Engine::attach_cookie_path. Valid while this object lives.
  tcp::CookiePathMemory memory() const { return memory_; }
  int program_fd() const;

  // Attaches the program to `ifindex`'s egress (a clsact qdisc, created unless there is one)
  // in direct-action mode. Needs CAP_NET_ADMIN. Detached again by the destructor, and the qdisc
  // removed if it was ours.
  Status attach(int ifindex);

  CookiePathStats stats() const;

  // Runs the program `repeat` times on `frame` (BPF_PROG_TEST_RUN): its verdict, the frame it
  // leaves and the kernel's mean time per run. Attached or not; the shared memory is the same.
  Result<CookiePathTestRun> run_once(std::span<const uint8_t> frame, uint32_t repeat = 1) const;

 private:
  CookiePathProgram() = default;

  cookie_path_bpf* skeleton_ = nullptr;
  tcp::CookiePathMemory memory_;
  int attached_ifindex_ = 0;
  bool created_qdisc_ = false;
};

}  // namespace tapstack::link
