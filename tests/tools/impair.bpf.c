/* A lossy link for the tests: a tc clsact program (direct action) on one hook of the TAP that
 * impairs IPv4 TCP segments carrying data, each independently at random (bpf_get_prandom_u32),
 * since this kernel has no netem:
 *   - loss: the segment is dropped;
 *   - duplication: a copy is sent after it (bpf_clone_redirect to the same hook);
 *   - reordering (ingress only): the segment is held back in a per-CPU slot and delivered
 *     right after the next data segment on the hook, so that one segment overtakes it.
 * Everything else (ARP, pure ACKs, SYN, FIN and RST without data) passes untouched. tc cannot
 * hold a frame for a time, so there is no delay of its own: a held segment waits exactly until
 * the next data segment, and one that nothing follows stays held (counted, and the sender's
 * retransmission then releases it).
 *
 * Ingress is what the engine writes into the TAP (its data to the kernel), one frame per skb:
 * the kernel processes the current skb at once and a clone redirected to ingress later (from
 * its backlog), which is what lets a held segment follow the next one. Egress is what the
 * kernel sends to the engine; there a frame may be a GSO super-packet (without the TAP's
 * offloads the kernel segments it after tc; with them it reaches the engine whole), and a loss
 * of one is a burst of its segments (counted as such; `ip link set DEV gso_max_segs 1` makes it
 * one segment per skb). With the TAP's offloads the engine's frames are TSO frames too, so the
 * e2e tests impair a TAP without them. A duplicate or a released
 * segment carries IMPAIR_MARK so that the program passes it when it comes through the hook again.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "impair_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_LEN 14
#define IP_LEN 20
#define TCP_LEN 20
#define IMPAIR_MARK 0x1a9a1a9a
/* A held frame: an MTU of 1500 and its Ethernet header, rounded up to a power of two so that a
 * masked length stays inside the buffer. */
#define FRAME_MAX 2048

/* Set by tapstack_impair before loading. */
const volatile __u32 loss_permille = 0;
const volatile __u32 dup_permille = 0;
const volatile __u32 reorder_permille = 0;
const volatile __u32 ifindex = 0;
const volatile __u32 at_ingress = 0;

struct impair_counters counters = {};

struct held_frame {
  __u32 length; /* 0: nothing held */
  __u8 bytes[FRAME_MAX];
};

/* Slot 0: the held segment; slot 1: scratch for the frame that overtakes it. Per CPU, because a
 * tc program runs without migrating and two CPUs must not share one slot. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, struct held_frame);
} frames SEC(".maps");

static __always_inline int chance(__u32 permille) {
  return permille && bpf_get_prandom_u32() % 1000 < permille;
}

/* The TCP payload length of an IPv4 frame, 0 for anything else. */
static __always_inline __u32 tcp_payload(struct __sk_buff* skb) {
  if (skb->protocol != bpf_htons(ETH_P_IP)) return 0;
  if (bpf_skb_pull_data(skb, ETH_LEN + IP_LEN + TCP_LEN)) return 0;
  const __u8* data = (const __u8*)(long)skb->data;
  const __u8* end = (const __u8*)(long)skb->data_end;
  if (data + ETH_LEN + IP_LEN > end) return 0;
  const __u8* ip = data + ETH_LEN;
  if ((ip[0] >> 4) != 4 || ip[9] != 6 /* TCP */) return 0;
  __u32 ip_length = (ip[0] & 0x0f) * 4;
  __u32 total_length = ((__u32)ip[2] << 8) | ip[3];
  if (ip_length < IP_LEN || ip_length > 60) return 0;
  const __u8* tcp = ip + ip_length;
  if (tcp + TCP_LEN > end) return 0;
  __u32 headers = ip_length + (tcp[12] >> 4) * 4;
  return total_length > headers ? total_length - headers : 0;
}

static __always_inline int save(struct __sk_buff* skb, struct held_frame* slot) {
  __u32 length = skb->len;
  if (length == 0 || length > FRAME_MAX) return -1;
  if (bpf_skb_load_bytes(skb, 0, slot->bytes, length & (FRAME_MAX - 1) ?: FRAME_MAX)) return -1;
  slot->length = length;
  return 0;
}

static __always_inline int restore(struct __sk_buff* skb, const struct held_frame* slot) {
  __u32 length = slot->length;
  if (length == 0 || length > FRAME_MAX) return -1;
  if (bpf_skb_change_tail(skb, length, 0)) return -1;
  return bpf_skb_store_bytes(skb, 0, slot->bytes, length & (FRAME_MAX - 1) ?: FRAME_MAX, 0);
}

/* The current skb (the next data segment) is delivered now, the held one after it: the held
 * bytes go into the skb, a clone of it is queued, and the skb gets its own bytes back. */
static __always_inline int release_after(struct __sk_buff* skb, struct held_frame* held) {
  __u32 one = 1;
  struct held_frame* scratch = bpf_map_lookup_elem(&frames, &one);
  if (!scratch || save(skb, scratch) || restore(skb, held)) return TC_ACT_SHOT;
  held->length = 0;
  __u32 mark = skb->mark;
  skb->mark = IMPAIR_MARK;
  long err = bpf_clone_redirect(skb, ifindex, BPF_F_INGRESS);
  skb->mark = mark;
  if (!err) __sync_fetch_and_add(&counters.released, 1);
  /* Without its own bytes back the skb would be a second copy of the held frame. */
  if (restore(skb, scratch)) return TC_ACT_SHOT;
  return TC_ACT_UNSPEC;
}

SEC("tc")
int impair(struct __sk_buff* skb) {
  if (skb->mark == IMPAIR_MARK) {
    skb->mark = 0;
    return TC_ACT_UNSPEC;
  }
  if (tcp_payload(skb) == 0) return TC_ACT_UNSPEC;
  __u32 segments = skb->gso_segs > 1 ? skb->gso_segs : 1;
  __sync_fetch_and_add(&counters.data_segments, segments);

  if (chance(loss_permille)) {
    __sync_fetch_and_add(&counters.dropped, segments);
    return TC_ACT_SHOT;
  }
  if (at_ingress && reorder_permille) {
    __u32 zero = 0;
    struct held_frame* held = bpf_map_lookup_elem(&frames, &zero);
    if (!held) return TC_ACT_UNSPEC;
    if (held->length) return release_after(skb, held);
    if (chance(reorder_permille) && save(skb, held) == 0) {
      __sync_fetch_and_add(&counters.reordered, 1);
      return TC_ACT_SHOT;
    }
  }
  if (chance(dup_permille)) {
    __u32 mark = skb->mark;
    skb->mark = IMPAIR_MARK;
    if (bpf_clone_redirect(skb, ifindex, at_ingress ? BPF_F_INGRESS : 0) == 0) {
      __sync_fetch_and_add(&counters.duplicated, segments);
    }
    skb->mark = mark;
  }
  return TC_ACT_UNSPEC;
}
