/* The kernel cookie path: a tc clsact egress program on the TAP (direct action).
 *
 * Frames on the TAP's egress are frames on their way to the engine. For a TCP segment to no tuple
 * the engine holds state for, the engine's answer depends only on what it publishes (secrets,
 * listeners, their modes), so this program gives it, in the sender's context, before the frame
 * is queued, and an attacker cannot fill the queue with segments the engine answers without
 * state: to a port without a listener, RST as Tcp::send_reset_for writes it; to a listener in
 * cookie mode, a SYN gets the engine's cookie SYN-ACK, byte for byte, sent back into the TAP's
 * ingress; an ACK is checked as a cookie while the listener's cookies are checkable, a valid one
 * passed on (the engine makes the connection), any other answered with the engine's RST; it drops
 * what the engine would drop (bad checksums, martian sources, RSTs and other segments a listener
 * ignores, SYNs to a full accept queue) and answers the engine would not send (no route). What
 * makes state in the engine passes untouched (a SYN to a listener not in cookie mode, a valid
 * cookie ACK, any segment on a tuple it holds), and so does every frame this program does not
 * follow: when in doubt, the engine decides.
 *
 * Each step mirrors a piece of the engine, named where it is done; the differential test
 * (tests/integration/cookie_path_program_test.cc) holds the two to the same bytes. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "cookie_path_abi.h"
#include "siphash.bpf.h"

/* No GPL-only helper is used. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct cookie_path_config);
} config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 65536);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct cookie_path_listener);
} listeners SEC(".maps");

/* An array map's elements are 8-byte aligned, so one slot per element would not map as an array
 * of __u32: the slots are grouped into entries of COOKIE_PATH_LIVE_SLOTS_PER_ENTRY, which map
 * back to back. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, COOKIE_PATH_LIVE_SLOTS / COOKIE_PATH_LIVE_SLOTS_PER_ENTRY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, __u32[COOKIE_PATH_LIVE_SLOTS_PER_ENTRY]);
} live SEC(".maps");

/* FourTuple seen from the engine: host byte order. */
struct tuple {
  __u32 local;
  __u32 remote;
  __u16 local_port;
  __u16 remote_port;
};

/* Tuples whose valid cookie ACK the program passed on, until when (ns). The engine makes the
 * connection only when it reads that ACK from the queue, so the client's next segments (more
 * data, its FIN or RST) can reach the program while the tuple still has no record; they must
 * follow the ACK into the queue rather than be answered here as the listener's. Only a valid
 * cookie enters a tuple, so a spoofed flood cannot fill this, and the oldest entries (long
 * handed over) give way first. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct tuple);
  __type(value, __u64);
} handed_over SEC(".maps");
/* Far longer than the TAP's queue takes to drain. */
#define HANDOVER_NS 1000000000ull

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, COOKIE_PATH_STAT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} stats SEC(".maps");

#define ETH_LEN 14
#define IP_LEN 20
#define TCP_LEN 20
#define MAX_IP_LEN 60
#define HEADERS_LEN (ETH_LEN + IP_LEN + TCP_LEN)
/* Longer segments pass to the engine: the checksum loop is bounded, and no SYN or cookie ACK of
 * a flood needs more (GSO super-packets from the local stack are far longer and are data). */
#define MAX_SEGMENT 2048
#define MAX_OPTIONS 40
/* What write_syn_options writes at most (header::kMaxSynOptionsLength). */
#define MAX_SYN_OPTIONS 20

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

#define TTL 64          /* tcp_output.cc kTtl */
#define DEFAULT_MSS 536 /* tcp_listen.cc kDefaultMss */
#define MAX_WSCALE 14   /* header::kMaxWindowScale */
#define COOKIE_BITS 24  /* syn_cookies.cc */
#define COOKIE_MASK ((1u << COOKIE_BITS) - 1)
#define COOKIE_MAX_AGE 2
#define COOKIE_TICK_NS 60000000000ull /* kCookieTick */
#define TS_BITS 6
#define TS_MASK ((1u << TS_BITS) - 1)
#define TS_WSCALE_NONE 0xF
#define TS_SACK (1u << 4)
#define TIMESTAMP_DOMAIN 1 /* isn.cc kTimestampDomain */

static __always_inline void count(__u32 stat) {
  __u64* value = bpf_map_lookup_elem(&stats, &stat);
  if (value) *value += 1;
}

static __always_inline __u16 load16(const __u8* p) {
  return (__u16)p[0] << 8 | p[1];
}
static __always_inline __u32 load32(const __u8* p) {
  return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}
static __always_inline void store16(__u8* p, __u16 v) {
  p[0] = v >> 8;
  p[1] = v;
}
static __always_inline void store32(__u8* p, __u32 v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

/* checksum_finish without the complement: the folded ones'-complement sum. */
static __always_inline __u16 fold(__u64 sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

/* header::pseudo_header_sum */
static __always_inline __u64 pseudo_header_sum(__u32 src, __u32 dst, __u32 length) {
  return (__u64)(src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + length;
}

/* checksum_add over the TCP segment's `length` bytes at `at` in the frame, folded; 0x10000 when
 * they are not all in the linear data. A function of its own (verified once), so that the loop's
 * exits do not multiply the states of the rest of the program. */
__noinline __u32 segment_sum(struct __sk_buff* skb, __u64 at, __u64 length) {
  const __u8* data = (const __u8*)(long)skb->data;
  const __u8* end = (const __u8*)(long)skb->data_end;
  if (length > MAX_SEGMENT || at > ETH_LEN + MAX_IP_LEN) return 0x10000;
  /* The loop below walks from a pointer the compiler cannot see through: it would otherwise
   * work out the trip count from `end`, arithmetic the verifier refuses. */
  data += at;
  barrier_var(data);
  __u64 sum = 0;
  __u32 offset = 0;
  /* Big-endian 32-bit words: x << 16 is x in a 16-bit ones'-complement sum, so this is the sum
   * of the 16-bit words, half the loads. */
  for (__u32 i = 0; i < MAX_SEGMENT / 4; ++i) {
    if (length < 4) break;
    const __u8* p = data + offset;
    if (p + 4 > end) return 0x10000;
    sum += load32(p);
    offset += 4;
    length -= 4;
  }
  const __u8* p = data + offset;
  /* Zeroes after an odd last byte, as checksum_add pads it. */
  if (length >= 2) {
    if (p + 2 > end) return 0x10000;
    sum += load16(p);
    p += 2;
    length -= 2;
  }
  if (length == 1) {
    if (p + 1 > end) return 0x10000;
    sum += (__u32)p[0] << 8;
  }
  return fold(sum);
}

/* Whether the engine is about to make a connection on `t` from a cookie ACK the program passed:
 * then whatever the program would answer or drop for the listener is the connection's, and
 * passes. Asked only there, so a SYN flood costs no lookup. */
static __always_inline int handed_over_now(const struct tuple* t) {
  __u64* until = bpf_map_lookup_elem(&handed_over, t);
  return until && bpf_ktime_get_ns() < *until;
}

/* FourTupleHash (four_tuple.h) */
static __always_inline __u64 tuple_hash(__u64 seed, const struct tuple* t) {
  __u64 a = ((__u64)t->local << 32 | t->remote) ^ seed;
  __u64 b = ((__u64)t->local_port << 16 | t->remote_port) ^ (seed >> 17);
  __u64 h = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
  h ^= h >> 31;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 29);
}

/* syn_cookies.cc cookie_hash: peer first. */
/* The records counted in one of the tuple's two slots of the live-tuple counts (a counting Bloom
 * filter: the engine counts each record in both, see cookie_path_abi.h); a map miss reads as
 * "maybe", so the engine decides. */
static __always_inline __u32 live_slot(__u64 hash) {
  __u32 slot = (__u32)hash & (COOKIE_PATH_LIVE_SLOTS - 1);
  __u32 entry = slot / COOKIE_PATH_LIVE_SLOTS_PER_ENTRY;
  __u32* records = bpf_map_lookup_elem(&live, &entry);
  if (!records) return 1;
  return *(volatile __u32*)&records[slot % COOKIE_PATH_LIVE_SLOTS_PER_ENTRY];
}

static __always_inline __u32 cookie_hash(const __u64 key[2], const struct tuple* t, __u32 count) {
  return siphash_4u32(key[0], key[1], t->remote, t->local,
                      (__u32)t->remote_port << 16 | t->local_port, count);
}

/* syn_cookies.cc make_cookie */
static __always_inline __u32 make_cookie(const struct cookie_path_secret* s, const struct tuple* t,
                                         __u32 peer_isn, __u32 count, __u32 mss_index) {
  return cookie_hash(s->h0, t, 0) + peer_isn + (count << COOKIE_BITS) +
         ((cookie_hash(s->h1, t, count) + mss_index) & COOKIE_MASK);
}

/* syn_cookies.cc check_cookie: whether the cookie is one of ours and young enough. */
static __always_inline int check_cookie(const struct cookie_path_secret* s, const struct tuple* t,
                                        __u32 peer_isn, __u32 cookie, __u32 count_now) {
  cookie -= cookie_hash(s->h0, t, 0) + peer_isn;
  __u32 age = (count_now - (cookie >> COOKIE_BITS)) & (0xffffffffu >> COOKIE_BITS);
  if (age >= COOKIE_MAX_AGE) return 0;
  __u32 mss_index = (cookie - cookie_hash(s->h1, t, count_now - age)) & COOKIE_MASK;
  return mss_index < 4;
}

/* SynCookies::check_isn */
static __always_inline int cookie_valid(const struct cookie_path_config* c, const struct tuple* t,
                                        __u32 peer_isn, __u32 isn, __u64 now) {
  __u32 count_now = now / COOKIE_TICK_NS;
  __u32 current = c->current & 1;
  if (check_cookie(&c->secrets[current], t, peer_isn, isn, count_now)) return 1;
  return now < c->previous_valid_until &&
         check_cookie(&c->secrets[current ^ 1], t, peer_isn, isn, count_now);
}

/* header::TcpOptions: what the SYN offered. */
struct syn_options {
  __u16 mss; /* 0: none (an MSS of zero counts as absent) */
  __u8 has_window_scale;
  __u8 window_scale; /* clamped to 14 */
  __u8 sack_permitted;
  __u8 has_timestamp;
  __u32 ts_value;
};

/* header::parse_tcp_options, rule for rule, over the segment's `length` option bytes (at most
 * 40) at `offset` in the frame: an option whose length byte is missing, below 2 or past the
 * end stops parsing (what came before is kept); a known option with the wrong length is skipped;
 * unknown options are skipped; EOL ends the list; the last of repeated options wins. Returns
 * non-zero if the bytes could not be read. A function of its own (verified once), like
 * segment_sum. */
__noinline int parse_syn_options(struct __sk_buff* skb, __u32 offset, __u64 length,
                                 struct syn_options* out) {
  /* 1..40, in a form the verifier follows (clang would merge two checks into this one and then
   * hand the helper the unchecked register). */
  __u64 last = length - 1;
  if (!out || last >= MAX_OPTIONS) return 1;
  barrier_var(last);
  __u8 o[64] = {};
  if (bpf_skb_load_bytes(skb, offset, o, last + 1)) return 1;
  /* Walked position by position, each a constant, so that the verifier sees fixed offsets and
   * one state per position; `next` is where the parser's index i stands. */
  __u32 next = 0;
#pragma unroll
  for (__u32 pos = 0; pos < MAX_OPTIONS; ++pos) {
    if (pos >= length) break;
    if (pos != next) continue;
    __u8 kind = o[pos];
    if (kind == 0) break;
    if (kind == 1) {
      next = pos + 1;
      continue;
    }
    if (pos + 1 >= length) break;
    __u32 len = o[pos + 1];
    if (len < 2 || len > length - pos) break;
    const __u8* value = o + pos + 2;
    if (kind == 2) {
      if (len == 4 && load16(value) != 0) out->mss = load16(value);
    } else if (kind == 3) {
      if (len == 3) {
        out->has_window_scale = 1;
        out->window_scale = value[0] < MAX_WSCALE ? value[0] : MAX_WSCALE;
      }
    } else if (kind == 4) {
      if (len == 2) out->sack_permitted = 1;
    } else if (kind == 8) {
      if (len == 10) {
        out->has_timestamp = 1;
        out->ts_value = load32(value);
      }
    }
    next = pos + len;
  }
  return 0;
}

/* SynCookies::encode_timestamp */
static __always_inline __u32 encode_timestamp(__u32 ts_now, const struct syn_options* o) {
  __u32 options = o->has_window_scale ? o->window_scale : TS_WSCALE_NONE;
  if (o->sack_permitted) options |= TS_SACK;
  __u32 ts = (ts_now & ~TS_MASK) | options;
  if (ts > ts_now) ts -= TS_MASK + 1;
  return ts;
}

/* A reply as Tcp::send_segment and Arp::transmit write it: Ethernet to the sender's MAC, IPv4
 * with ID 0, DF and TTL 64, then TCP and its options. Bytes past the reply stay zero. */
struct reply {
  __u8 b[HEADERS_LEN + MAX_SYN_OPTIONS];
};

static __always_inline void write_headers(struct reply* r, const struct cookie_path_config* c,
                                          const __u8 peer_mac[6], const struct tuple* t, __u32 seq,
                                          __u32 ack, __u8 flags, __u16 window,
                                          __u32 options_length) {
  __u8* b = r->b;
  __builtin_memcpy(b, peer_mac, 6);
  __builtin_memcpy(b + 6, c->mac, 6);
  store16(b + 12, ETH_P_IP);
  __u8* ip = b + ETH_LEN;
  __u32 segment_length = TCP_LEN + options_length;
  ip[0] = 0x45;
  store16(ip + 2, IP_LEN + segment_length);
  store16(ip + 6, 0x4000);
  ip[8] = TTL;
  ip[9] = 6;
  store32(ip + 12, t->local);
  store32(ip + 16, t->remote);
  __u64 sum = 0;
#pragma unroll
  for (int i = 0; i < IP_LEN; i += 2) sum += load16(ip + i);
  store16(ip + 10, ~fold(sum));

  __u8* tcp = ip + IP_LEN;
  store16(tcp, t->local_port);
  store16(tcp + 2, t->remote_port);
  store32(tcp + 4, seq);
  store32(tcp + 8, ack);
  tcp[12] = (segment_length / 4) << 4;
  tcp[13] = flags;
  store16(tcp + 14, window);
  /* Zeroes past the options add nothing to the sum. */
  sum = pseudo_header_sum(t->local, t->remote, segment_length);
#pragma unroll
  for (int i = 0; i < TCP_LEN + MAX_SYN_OPTIONS; i += 2) sum += load16(tcp + i);
  store16(tcp + 16, ~fold(sum));
}

/* Cuts or grows the frame to the reply, writes it, and sends it back into the TAP's ingress. */
static __always_inline int send_reply(struct __sk_buff* skb, const struct reply* r, __u32 length) {
  if (bpf_skb_change_tail(skb, length, 0) || bpf_skb_store_bytes(skb, 0, r->b, length, 0)) {
    return TC_ACT_SHOT;
  }
  return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

/* What the engine would answer goes nowhere (Engine::send_ip has no route to the peer): the
 * segment is dropped, and nothing sent. */
static __always_inline int no_route(void) {
  count(COOKIE_PATH_STAT_NO_ROUTE);
  return TC_ACT_SHOT;
}

/* Tcp::send_reset_for: RST <SEQ=SEG.ACK> for a segment with ACK, else
 * RST|ACK <SEQ=0><ACK=SEG.SEQ+SEG.LEN>; nothing else. */
static __always_inline int send_reset_for(struct __sk_buff* skb, const struct cookie_path_config* c,
                                          const __u8 peer_mac[6], const struct tuple* t, __u8 flags,
                                          __u32 seq, __u32 ack, __u32 sequence_length) {
  struct reply r;
  __builtin_memset(&r, 0, sizeof(r));
  if (flags & TCP_ACK) {
    write_headers(&r, c, peer_mac, t, ack, 0, TCP_RST, 0, 0);
  } else {
    write_headers(&r, c, peer_mac, t, 0, seq + sequence_length, TCP_RST | TCP_ACK, 0, 0);
  }
  count(COOKIE_PATH_STAT_RESETS);
  return send_reply(skb, &r, HEADERS_LEN);
}

/* Tcp::send_cookie_synack, send_synack with syn_options_for(negotiate(options)) and
 * write_syn_options. */
static __always_inline int send_cookie_synack(struct __sk_buff* skb,
                                              const struct cookie_path_config* c,
                                              const __u8 peer_mac[6], const struct tuple* t,
                                              __u32 peer_seq, const struct syn_options* o) {
  __u64 now = bpf_ktime_get_ns();
  /* SynCookies::make_isn: the largest table entry not above the peer's MSS, else the first. */
  __u16 peer_mss = o->mss ? o->mss : DEFAULT_MSS;
  __u32 mss_index = peer_mss >= 1460 ? 3 : peer_mss >= 1440 ? 2 : peer_mss >= 1300 ? 1 : 0;
  __u32 isn =
      make_cookie(&c->secrets[c->current & 1], t, peer_seq, now / COOKIE_TICK_NS, mss_index);

  struct reply r;
  __builtin_memset(&r, 0, sizeof(r));
  __u8* opt = r.b + HEADERS_LEN;
  __u32 n = 0;
  opt[0] = 2;
  opt[1] = 4;
  store16(opt + 2, c->mss);
  n = 4;
  if (o->has_timestamp) {
    /* Tcp::ts_value with the tuple's timestamp offset, window scale and SACK in the low bits. */
    __u32 offset = siphash_4u32(c->isn_key[0], c->isn_key[1], t->local, t->remote,
                                (__u32)t->local_port << 16 | t->remote_port, TIMESTAMP_DOMAIN);
    __u32 ts = encode_timestamp((__u32)(now / 1000000) + offset, o);
    if (o->sack_permitted) {
      opt[4] = 4;
      opt[5] = 2;
    } else {
      opt[4] = 1;
      opt[5] = 1;
    }
    opt[6] = 8;
    opt[7] = 10;
    store32(opt + 8, ts);
    store32(opt + 12, o->ts_value);
    n = 16;
  } else if (o->sack_permitted) {
    opt[4] = 1;
    opt[5] = 1;
    opt[6] = 4;
    opt[7] = 2;
    n = 8;
  }
  if (o->has_window_scale) {
    if (n == 16) {
      opt[16] = 1;
      opt[17] = 3;
      opt[18] = 3;
      opt[19] = c->window_scale;
      n = 20;
    } else if (n == 8) {
      opt[8] = 1;
      opt[9] = 3;
      opt[10] = 3;
      opt[11] = c->window_scale;
      n = 12;
    } else {
      opt[4] = 1;
      opt[5] = 3;
      opt[6] = 3;
      opt[7] = c->window_scale;
      n = 8;
    }
  }
  write_headers(&r, c, peer_mac, t, isn, peer_seq + 1, TCP_SYN | TCP_ACK, c->syn_window, n);
  return send_reply(skb, &r, HEADERS_LEN + n);
}

/* The IPv4 header's ones'-complement sum over its `length` bytes (20 to 60, whole 32-bit words:
 * x << 16 is x in a 16-bit sum), folded: 0xffff when its checksum is right; 0x10000 when it is
 * not all in the linear data. */
static __always_inline __u32 ipv4_header_sum(const __u8* ip, const __u8* end, __u32 length) {
  __u64 sum = 0;
#pragma unroll
  for (int i = 0; i < IP_LEN; i += 4) sum += load32(ip + i);
  /* Options: rare, so a loop rather than more code on every frame's path. */
  for (__u32 i = IP_LEN; i < length && i < MAX_IP_LEN; i += 4) {
    const __u8* p = ip + i;
    barrier_var(p); /* else compared as ip + i against end - 4: no arithmetic on `end` */
    if (p + 4 > end) return 0x10000;
    sum += load32(p);
  }
  return fold(sum);
}

SEC("tc")
int cookie_path(struct __sk_buff* skb) {
  __u32 zero = 0;
  const struct cookie_path_config* c = bpf_map_lookup_elem(&config, &zero);
  if (!c || !*(volatile const __u32*)&c->ready) return TC_ACT_OK;

  /* Engine::receive_frame and receive_ipv4, up to Tcp::receive. */
  __u32 frame_length = skb->len;
  if (frame_length < HEADERS_LEN || frame_length > ETH_LEN + MAX_IP_LEN + MAX_SEGMENT) {
    return TC_ACT_OK;
  }
  if (skb->data_end - skb->data < frame_length && bpf_skb_pull_data(skb, frame_length)) {
    return TC_ACT_OK;
  }
  const __u8* data = (const __u8*)(long)skb->data;
  const __u8* end = (const __u8*)(long)skb->data_end;
  if (data + HEADERS_LEN > end) return TC_ACT_OK;
  const __u8* eth = data;
  const __u8* ip = data + ETH_LEN;
  int broadcast = (eth[0] & eth[1] & eth[2] & eth[3] & eth[4] & eth[5]) == 0xff;
  int ours = eth[0] == c->mac[0] && eth[1] == c->mac[1] && eth[2] == c->mac[2] &&
             eth[3] == c->mac[3] && eth[4] == c->mac[4] && eth[5] == c->mac[5];
  if (!broadcast && !ours) return TC_ACT_OK;
  if (load16(eth + 12) != ETH_P_IP) return TC_ACT_OK;
  if ((ip[0] >> 4) != 4 || ip[9] != 6) return TC_ACT_OK;
  /* IP options are read past and ignored, as the engine does; the answer carries none. */
  __u32 ip_length = (ip[0] & 0x0f) * 4;
  if (ip_length < IP_LEN) return TC_ACT_OK;
  const __u8* tcp = ip + ip_length;
  if (tcp + TCP_LEN > end) return TC_ACT_OK;
  __u32 total_length = load16(ip + 2);
  if (total_length < ip_length + TCP_LEN || total_length > frame_length - ETH_LEN) {
    return TC_ACT_OK;
  }
  struct tuple t = {
      .local = load32(ip + 16),
      .remote = load32(ip + 12),
      .local_port = load16(tcp + 2),
      .remote_port = load16(tcp),
  };
  if (t.local != c->address || (load16(ip + 6) & 0x3fff) != 0) return TC_ACT_OK;

  /* Tcp::receive: a tuple the engine may hold a record for is the engine's. */
  __u64 hash = tuple_hash(c->tuple_seed, &t);
  if (live_slot(hash) != 0 && live_slot(hash >> 32) != 0) return TC_ACT_OK;

  /* The checks the engine makes before, in its order. */
  __u32 ip_sum = ipv4_header_sum(ip, end, ip_length);
  if (ip_sum > 0xffff) return TC_ACT_OK;
  if (ip_sum != 0xffff) {
    count(COOKIE_PATH_STAT_BAD_CHECKSUM);
    return TC_ACT_SHOT;
  }
  /* Ipv4Subnet::could_be_peer */
  __u32 top = t.remote >> 24;
  __u32 broadcast_address = c->address | ~c->netmask;
  if (top == 0 || top == 127 || top >= 224 || t.remote == c->address ||
      t.remote == broadcast_address) {
    count(COOKIE_PATH_STAT_INVALID_SOURCE);
    return TC_ACT_SHOT;
  }
  /* Engine::send_ip sends nothing to an off-link peer without a gateway: what it would answer
   * is dropped here instead of sent. */
  int routable = (t.remote & c->netmask) == (c->address & c->netmask) || c->gateway != 0;

  __u32 segment_length = total_length - ip_length;
  __u32 header_length = (tcp[12] >> 4) * 4;
  if (header_length < TCP_LEN || header_length > segment_length) return TC_ACT_OK;
  /* A segment from the local stack reaches tc before its checksum is finished
   * (CHECKSUM_PARTIAL): the field then holds the pseudo-header's sum, and the engine takes such a
   * frame as checked (RxChecksum), as Linux does. tc cannot see ip_summed, so a segment from
   * elsewhere whose field happens to hold that sum goes unchecked here too: such a sender could
   * as well have sent a valid checksum. */
  __u32 pseudo = fold(pseudo_header_sum(t.remote, t.local, segment_length));
  __u16 field = load16(tcp + 16);
  __u8 flags = tcp[13];
  __u32 seq = load32(tcp + 4);
  __u32 ack = load32(tcp + 8);
  /* TcpView::sequence_length: the payload, and one each for SYN and FIN. */
  __u32 sequence_length =
      segment_length - header_length + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
  __u8 peer_mac[6];
  __builtin_memcpy(peer_mac, eth + 6, 6);
  if (field != pseudo) {
    __u32 sum = segment_sum(skb, ETH_LEN + ip_length, segment_length);
    if (sum > 0xffff) return TC_ACT_OK;
    if (fold((__u64)sum + pseudo) != 0xffff) {
      count(COOKIE_PATH_STAT_BAD_CHECKSUM);
      return TC_ACT_SHOT;
    }
  }

  __u32 port = t.local_port;
  struct cookie_path_listener* l = bpf_map_lookup_elem(&listeners, &port);
  if (!l) return TC_ACT_OK;
  if (!*(volatile __u32*)&l->listening) {
    /* (The listener went after passing a cookie ACK: the connection's, all the same.) */
    if (!(flags & TCP_SYN) && handed_over_now(&t)) return TC_ACT_OK;
    /* Nobody listens: RFC 9293 3.10.7.1, RST for anything but RST. */
    if (flags & TCP_RST) {
      count(COOKIE_PATH_STAT_IGNORED);
      return TC_ACT_SHOT;
    }
    if (!routable) return no_route();
    count(COOKIE_PATH_STAT_CLOSED_PORT_RESETS);
    return send_reset_for(skb, c, peer_mac, &t, flags, seq, ack, sequence_length);
  }

  /* Tcp::listener_receive */
  if (flags & TCP_RST) {
    if (handed_over_now(&t)) return TC_ACT_OK;
    count(COOKIE_PATH_STAT_IGNORED);
    return TC_ACT_SHOT;
  }
  __u32 mode = *(volatile __u32*)&l->mode;
  if (flags & TCP_ACK) {
    if (!(flags & TCP_SYN)) {
      /* Tcp::cookies_checkable: in cookie mode, and for the lifetime of the last cookie sent. */
      __u64 now = bpf_ktime_get_ns();
      if ((mode == COOKIE_PATH_ON || now < *(volatile __u64*)&l->cookies_checkable_until) &&
          cookie_valid(c, &t, seq - 1, ack - 1, now)) {
        __u64 until = now + HANDOVER_NS;
        bpf_map_update_elem(&handed_over, &t, &until, BPF_ANY);
        __sync_fetch_and_add(&l->acks_passed, 1);
        return TC_ACT_OK;
      }
      /* Data (or a FIN) after the cookie ACK no longer checks as a cookie: its sequence number
       * moved. A bare ACK after it repeats its numbers and checked above, so a forged bare ACK,
       * what a flood sends, costs no lookup. */
      if (sequence_length > 0 && handed_over_now(&t)) return TC_ACT_OK;
      __sync_fetch_and_add(&l->acks_refused, 1);
    }
    if (!routable) return no_route();
    return send_reset_for(skb, c, peer_mac, &t, flags, seq, ack, sequence_length);
  }
  if (!(flags & TCP_SYN) || (flags & TCP_FIN)) {
    if (!(flags & TCP_SYN) && handed_over_now(&t)) return TC_ACT_OK;
    count(COOKIE_PATH_STAT_IGNORED);
    return TC_ACT_SHOT;
  }
  /* Tcp::answer_syn */
  if (*(volatile __u32*)&l->accept_queue_full) {
    __sync_fetch_and_add(&l->syns_dropped, 1);
    return TC_ACT_SHOT;
  }
  /* Not in cookie mode, the engine answers from a half-open record: state, so its own. */
  if (mode != COOKIE_PATH_ON) return TC_ACT_OK;
  struct syn_options o = {};
  __u32 options_length = header_length - TCP_LEN;
  if (options_length > 0 &&
      parse_syn_options(skb, ETH_LEN + ip_length + TCP_LEN, options_length, &o)) {
    return TC_ACT_OK;
  }
  if (!routable) return no_route();
  __sync_fetch_and_add(&l->synacks, 1);
  return send_cookie_synack(skb, c, peer_mac, &t, seq, &o);
}
