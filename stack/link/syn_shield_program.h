// The SYN shield's eBPF program and the layout of the maps it shares with user space. It runs as
// the TAP's filter (TUNSETFILTEREBPF), in the kernel, on each frame the kernel is about to queue
// for us, in the sending context: every SYN's (addresses, ports, sequence number) is remembered in
// a bitmap for a few seconds, and while the shield is active a SYN not seen before is dropped; the
// same SYN again (the client's retransmission: same tuple, same sequence number) passes. Every
// other frame passes untouched. A spoofed flood never retransmits, so it stops at the filter, and
// its sender pays for it.
#pragma once

#include <linux/bpf.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "stack/link/bpf.h"
#include "stack/status.h"

namespace tapstack::link {

// The control map's single value.
struct SynShieldControl {
  uint64_t active = 0;      // 0: everything passes
  uint64_t generation = 0;  // the bitmap new SYNs are remembered in (0 or 1); the other is read
  uint64_t seed = 0;        // keys the hash, so senders cannot aim at chosen bits
  uint64_t first_syns_dropped = 0;
  uint64_t retransmissions_passed = 0;
};

// The program reads and updates the control value concurrently, from any CPU; user space goes
// through these.
inline uint64_t load_shared(uint64_t& field) {
  return std::atomic_ref<uint64_t>(field).load(std::memory_order_acquire);
}
inline void store_shared(uint64_t& field, uint64_t value) {
  std::atomic_ref<uint64_t>(field).store(value, std::memory_order_release);
}

// Two generations of this many bits each. A SYN's bit has the same index in both, and the two
// words holding it sit side by side (generation g's word in a pair is word g), so the program
// finds both in one cache line. Bits 0-5 of the SYN's hash pick the bit in its word, the next
// 17 the word pair within a map entry, bit 23 the entry (an array map's value is at most a few
// MiB).
inline constexpr uint32_t kSynShieldBits = 1u << 24;
inline constexpr uint32_t kSynShieldBitmapEntries = 2;
inline constexpr int32_t kSynShieldEntryShift = 23;
inline constexpr uint32_t kSynShieldPairsPerEntry = kSynShieldBits / 64 / kSynShieldBitmapEntries;
inline constexpr uint32_t kSynShieldEntryBytes = kSynShieldPairsPerEntry * 2 * sizeof(uint64_t);
static_assert(kSynShieldPairsPerEntry * kSynShieldBitmapEntries * 64 == kSynShieldBits);
static_assert(uint32_t{1} << kSynShieldEntryShift == kSynShieldPairsPerEntry * 64);

std::vector<bpf_insn> syn_shield_program(int control_map_fd, int bitmap_map_fd);

// The program loaded, with its maps: what SynShield attaches to a TAP and steers, and what a test
// or benchmark runs on frames of its own (bpf::run_socket_filter).
class SynShieldFilter {
 public:
  // `seed` keys the bitmap's hash. Needs CAP_BPF.
  static Result<SynShieldFilter> load(uint64_t seed);

  const bpf::Fd& program() const { return program_; }
  // Shared with the program: load_shared() and store_shared() its fields.
  SynShieldControl& control() const;
  // Forgets the SYNs noted in generation `generation` (0 or 1), then notes new ones there.
  void start_generation(uint64_t generation);

 private:
  SynShieldFilter(bpf::ArrayMap control, bpf::ArrayMap bitmap, bpf::Fd program);
  bpf::ArrayMap control_;
  bpf::ArrayMap bitmap_;
  bpf::Fd program_;
};

}  // namespace tapstack::link
