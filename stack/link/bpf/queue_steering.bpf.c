/* The TAP's queue steering: a socket filter program attached with TUNSETSTEERINGEBPF, run by
 * the kernel for each frame it sends into a multi-queue TAP, whose return value picks the queue
 * (stack/tcp/queue_steering.h says exactly how). It returns steering_hash
 * (stack/tcp/queue_steering.cc) of an IPv4 TCP frame's tuple, so that every frame of a flow
 * reaches the queue whose engine loop chose the flow's port; anything else (ARP, other
 * protocols, IP fragments, whose later parts carry no ports) returns 0: queue 0.
 *
 * The Ethernet header is read relative to the MAC header: in the TAP's transmit path the frame
 * starts there (__dev_queue_xmit resets it before picking the queue), and BPF_PROG_TEST_RUN of a
 * socket filter, which leaves skb->data at the IP header, sets it there too (eth_type_trans). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>

#include <bpf/bpf_helpers.h>

#include "siphash.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* steering_hash's key, written by QueueSteeringProgram before it loads the program. */
const volatile __u64 steering_key[2] = {0, 0};

#define ETH_LEN 14
#define IP_LEN 20
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

static __always_inline __u32 load16(const __u8* p) {
  return (__u32)p[0] << 8 | p[1];
}
static __always_inline __u32 load32(const __u8* p) {
  return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

SEC("socket")
int queue_steering(struct __sk_buff* skb) {
  __u8 h[ETH_LEN + IP_LEN];
  if (bpf_skb_load_bytes_relative(skb, 0, h, sizeof(h), BPF_HDR_START_MAC)) return 0;
  if (load16(h + 12) != ETH_P_IP) return 0;
  const __u8* ip = h + ETH_LEN;
  __u32 header_length = (ip[0] & 0x0f) * 4;
  if (ip[0] >> 4 != 4 || header_length < IP_LEN) return 0;
  if (ip[9] != IPPROTO_TCP) return 0;
  if (load16(ip + 6) & (IP_MF | IP_OFFSET)) return 0;
  __u8 ports[4];
  if (bpf_skb_load_bytes_relative(skb, ETH_LEN + header_length, ports, sizeof(ports),
                                  BPF_HDR_START_MAC)) {
    return 0;
  }
  /* The two endpoints as address << 16 | port, the smaller first. */
  __u64 source = (__u64)load32(ip + 12) << 16 | load16(ports);
  __u64 destination = (__u64)load32(ip + 16) << 16 | load16(ports + 2);
  __u64 first = source < destination ? source : destination;
  __u64 second = source < destination ? destination : source;
  __u32 both_ports = (__u32)(first & 0xffff) << 16 | (__u32)(second & 0xffff);
  return (__u32)siphash_4u32(steering_key[0], steering_key[1], (__u32)(first >> 16),
                             (__u32)(second >> 16), both_ports, 0);
}
