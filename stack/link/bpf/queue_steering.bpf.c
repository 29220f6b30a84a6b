/* The TAP's queue steering: a socket filter program attached with TUNSETSTEERINGEBPF, run by
 * the kernel for each frame it sends into a multi-queue TAP, whose return value picks the queue
 * (stack/tcp/queue_steering.h says exactly how). It returns steering_hash
 * (stack/tcp/queue_steering.cc) of an IPv4 TCP frame's tuple, so that every frame of a flow
 * reaches the queue whose engine loop chose the flow's port. An ICMP error quoting a TCP header
 * returns the quoted tuple's hash (the hash is symmetric: our quoted segment hashes as the
 * peer's), so that it reaches the loop that owns the connection, which alone can act on it.
 * Anything else (ARP, echo requests, other protocols, IP fragments, whose later parts carry no
 * ports) returns 0: queue 0.
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
#define ICMP_LEN 8
/* What RFC 792 has an ICMP error quote after the IP header: the first 64 bits of the datagram,
 * for TCP its ports and sequence number (header::parse_quoted_tcp requires as much). */
#define QUOTED_TCP_LEN 8
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

static __always_inline __u32 load16(const __u8* p) {
  return (__u32)p[0] << 8 | p[1];
}
static __always_inline __u32 load32(const __u8* p) {
  return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* The IPv4 header's length if `ip` (its fixed 20 bytes) starts an unfragmented IPv4 datagram of
 * `protocol`, else 0. A fragment's later parts carry no ports, and the engine drops fragments
 * (it sends none: DF on every segment, so no error can quote one of its own either). */
static __always_inline __u32 header_length_of(const __u8* ip, __u8 protocol) {
  __u32 header_length = (ip[0] & 0x0f) * 4;
  if (ip[0] >> 4 != 4 || header_length < IP_LEN || ip[9] != protocol) return 0;
  if (load16(ip + 6) & (IP_MF | IP_OFFSET)) return 0;
  return header_length;
}

/* steering_hash of the tuple in the IP header `ip` and the TCP ports at `ports`: the two
 * endpoints as address << 16 | port, the smaller first, so either direction hashes alike. */
static __always_inline __u32 tuple_hash(const __u8* ip, const __u8* ports) {
  __u64 source = (__u64)load32(ip + 12) << 16 | load16(ports);
  __u64 destination = (__u64)load32(ip + 16) << 16 | load16(ports + 2);
  __u64 first = source < destination ? source : destination;
  __u64 second = source < destination ? destination : source;
  __u32 both_ports = (__u32)(first & 0xffff) << 16 | (__u32)(second & 0xffff);
  return (__u32)siphash_4u32(steering_key[0], steering_key[1], (__u32)(first >> 16),
                             (__u32)(second >> 16), both_ports, 0);
}

/* An ICMP message at `at` in the frame, `length` bytes by its IP header: for an error TCP acts
 * on (net::icmp_error_reason's types, every code: a frag-needed goes where the connection is,
 * whatever the engine makes of it) quoting an IPv4 TCP header, the quoted tuple's hash, which
 * is its connection's; anything else (echo requests, other types, truncated quotes, quoted
 * fragments or other protocols) 0. */
static __always_inline __u32 icmp_error_hash(struct __sk_buff* skb, __u32 at, __u32 length) {
  __u8 h[ICMP_LEN + IP_LEN];
  if (length < sizeof(h) || bpf_skb_load_bytes_relative(skb, at, h, sizeof(h), BPF_HDR_START_MAC)) {
    return 0;
  }
  if (h[0] != ICMP_DEST_UNREACH && h[0] != ICMP_TIME_EXCEEDED && h[0] != ICMP_PARAMETERPROB) {
    return 0;
  }
  const __u8* quoted = h + ICMP_LEN;
  __u32 quoted_length = header_length_of(quoted, IPPROTO_TCP);
  if (!quoted_length || length < ICMP_LEN + quoted_length + QUOTED_TCP_LEN) return 0;
  __u8 ports[4];
  if (bpf_skb_load_bytes_relative(skb, at + ICMP_LEN + quoted_length, ports, sizeof(ports),
                                  BPF_HDR_START_MAC)) {
    return 0;
  }
  return tuple_hash(quoted, ports);
}

SEC("socket")
int queue_steering(struct __sk_buff* skb) {
  __u8 h[ETH_LEN + IP_LEN];
  if (bpf_skb_load_bytes_relative(skb, 0, h, sizeof(h), BPF_HDR_START_MAC)) return 0;
  if (load16(h + 12) != ETH_P_IP) return 0;
  const __u8* ip = h + ETH_LEN;
  if (ip[9] == IPPROTO_ICMP) {
    __u32 header_length = header_length_of(ip, IPPROTO_ICMP);
    /* The datagram's end, as the engine reads it: not the frame's (Ethernet pads). */
    __u32 total_length = load16(ip + 2);
    if (!header_length || total_length < header_length) return 0;
    return icmp_error_hash(skb, ETH_LEN + header_length, total_length - header_length);
  }
  __u32 header_length = header_length_of(ip, IPPROTO_TCP);
  if (!header_length) return 0;
  __u8 ports[4];
  if (bpf_skb_load_bytes_relative(skb, ETH_LEN + header_length, ports, sizeof(ports),
                                  BPF_HDR_START_MAC)) {
    return 0;
  }
  return tuple_hash(ip, ports);
}
