// Which TAP queue a TCP flow's frames reach, so that an engine loop on queue k can pick, for an
// active open, a local port whose answers come back to queue k.
//
// The kernel chooses the queue of a frame it sends into a multi-queue TAP with the steering
// program (stack/link/bpf/queue_steering.bpf.c, attached with TUNSETSTEERINGEBPF), which returns
// steering_hash of the frame's tuple; the engine computes the same hash for a tuple it is about to
// use. The hash is symmetric, so it does not matter which side's view of the tuple is hashed.
#pragma once

#include <cstdint>

#include "stack/tcp/four_tuple.h"
#include "stack/tcp/siphash.h"

namespace tapstack::tcp {

// Keyed SipHash-2-4 of the tuple's two (address, port) endpoints, the smaller one (compared as
// address << 16 | port) first: the same value for the tuple seen from either end. Keyed so that
// a peer cannot aim its connections at one queue. The low 32 bits of siphash_4u32(key,
// first address, second address, first port << 16 | second port, 0), as the program computes.
// An IPv4 tuple only: the program hashes nothing else.
uint32_t steering_hash(const FourTuple& t, const SipKey& key);

// The queue the kernel delivers a frame with steering hash `hash` to, out of `queues`.
// drivers/net/tun.c (tun_ebpf_select_queue, Linux 4.16 to 6.x) stores the program's u32 return
// value in a u16 and takes that modulo the number of queues attached at the time:
//   u16 ret = bpf_prog_run_clear_cb(prog->prog, skb); return ret % numqueues;
// so only the low 16 bits of the hash count (for a power-of-two count of queues the same as
// hash % queues; not for other counts). Queue k is the k-th file descriptor attached
// (tun_attach sets queue_index = numqueues); when one detaches, the last takes its index.
uint32_t steering_queue(uint32_t hash, uint32_t queues);

}  // namespace tapstack::tcp
