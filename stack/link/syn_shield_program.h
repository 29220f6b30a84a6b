// The SYN shield's eBPF program and the layout of the maps it shares with user space. It runs as
// the TAP's filter (TUNSETFILTEREBPF), in the kernel, on each frame the kernel is about to queue
// for us, in the sending context: every SYN's (addresses, ports, sequence number) is remembered in
// a bitmap for a few seconds, and while the shield is active a SYN not seen before is dropped; the
// same SYN again (the client's retransmission: same tuple, same sequence number) passes. Every
// other frame passes untouched. A spoofed flood never retransmits, so it stops at the filter, and
// its sender pays for it.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <vector>

namespace tapstack::link {

// The control map's single value.
struct SynShieldControl {
  uint64_t active = 0;      // 0: everything passes
  uint64_t generation = 0;  // the bitmap new SYNs are remembered in (0 or 1); the other is read
  uint64_t seed = 0;        // keys the hash, so senders cannot aim at chosen bits
  uint64_t first_syns_dropped = 0;
  uint64_t retransmissions_passed = 0;
};

// Two generations of this many bits each.
inline constexpr uint32_t kSynShieldBits = 1u << 24;

std::vector<bpf_insn> syn_shield_program(int control_map_fd, int bitmap_map_fd);

}  // namespace tapstack::link
