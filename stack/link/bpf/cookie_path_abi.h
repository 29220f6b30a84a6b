/* The memory the engine and the kernel's cookie path share (stack/link/bpf/cookie_path.bpf.c).
 *
 * Plain C, included by the BPF program (clang -target bpf) and by the engine (C++). Every map is
 * an array created with BPF_F_MMAPABLE, so the engine writes its side with plain stores into
 * mapped memory, no system call per update, and reads the program's counters the same way.
 * One writer per field: the engine's loop thread writes the configuration, the modes and the
 * live-tuple counts; the program only adds to its counters (atomically, from any CPU).
 *
 * Addresses and ports are in host byte order, as the engine keeps them; times are
 * CLOCK_MONOTONIC nanoseconds, the clock both bpf_ktime_get_ns() and the engine's
 * steady_clock read. */
#ifndef TAPSTACK_STACK_LINK_BPF_COOKIE_PATH_ABI_H_
#define TAPSTACK_STACK_LINK_BPF_COOKIE_PATH_ABI_H_

#include <linux/types.h>

/* Slots of the live-tuple counts: a power of two. */
#define COOKIE_PATH_LIVE_SLOTS (1u << 20)
/* The "live" map holds them in entries of this many (its elements are 8-byte aligned, so single
 * __u32 slots would not map back to back); mapped, the slots are one array all the same. */
#define COOKIE_PATH_LIVE_SLOTS_PER_ENTRY (1u << 18)

/* The two SipHash keys of one SYN-cookie secret (SynCookies::Secret). */
struct cookie_path_secret {
  __u64 h0[2];
  __u64 h1[2];
};

/* Map "config", one entry. Written by the engine when it attaches and when the secret rotates. */
struct cookie_path_config {
  /* 0 until everything below is filled in: the program passes every frame while it is 0. */
  __u32 ready;
  /* secrets[current] makes new cookies; secrets[current ^ 1] still checks them until
   * previous_valid_until (SynCookies::rotate keeps the old secret for two ticks). */
  __u32 current;
  struct cookie_path_secret secrets[2];
  __u64 previous_valid_until;
  /* IsnGenerator's key: the timestamp offset of a tuple. */
  __u64 isn_key[2];
  /* FourTupleHash's seed: the slot of a tuple in the live-tuple counts. */
  __u64 tuple_seed;
  __u32 address; /* ours */
  __u32 netmask; /* of our subnet: its broadcast address is no peer */
  /* Next hop for peers outside our subnet; 0: none, so the engine sends them nothing and the
   * program drops what it would answer them. */
  __u32 gateway;
  __u8 mac[6];   /* ours */
  __u16 mss;     /* ours, sent in every SYN-ACK */
  __u16 syn_window;
  __u8 window_scale; /* ours, sent when the SYN offered one */
  __u8 pad[3];
};

/* Cookie modes of a listener's port (cookie_path_listener.mode). */
enum cookie_path_mode {
  COOKIE_PATH_OFF = 0, /* SYNs pass: the engine answers them from half-open records */
  COOKIE_PATH_ON = 1,  /* the program answers SYNs with cookies */
};

/* Map "listeners", one entry per port. A segment for no state of the engine's (its live slot is
 * 0) is answered here as Tcp::receive would: on a port without a listener with RST; on a
 * listener's port as listener_receive does (SYNs pass unless in cookie mode or the accept queue
 * is full, ACKs are checked as cookies while checkable, else RST). */
struct cookie_path_listener {
  /* Written by the engine. */
  __u32 mode;
  __u32 accept_queue_full; /* non-zero: SYNs are dropped, as the engine drops them */
  __u32 listening;         /* non-zero: a listener holds the port */
  __u32 pad;
  /* While mode is OFF, ACKs are checked as cookies until then (ns; ~0: always, with
   * syncookies `always`), as cookies_checkable says: the lifetime of the last cookie sent. */
  __u64 cookies_checkable_until;
  /* Counted by the program. */
  __u64 synacks;            /* SYNs answered with a cookie SYN-ACK */
  __u64 acks_passed;        /* ACKs with a valid cookie, passed to the engine */
  __u64 acks_refused;       /* ACKs without one, answered with RST <SEQ=SEG.ACK> */
  __u64 syns_dropped;       /* SYNs dropped because the accept queue was full */
};

/* Map "live", COOKIE_PATH_LIVE_SLOTS __u32 slots (mapped as one array), a counting Bloom filter
 * of the engine's connections, half-open records and TIME-WAIT records: each is counted in two
 * slots, the low and the high 32 bits of its FourTupleHash (seed tuple_seed), masked. A segment
 * with either of its slots at 0 belongs to no state of the engine's, so the program answers it
 * as Tcp::receive would (listener or RST); any other passes to the engine. */

/* Map "stats", per CPU, indexed by this enum: what the program did with frames that were not
 * counted per listener. */
enum cookie_path_stat {
  COOKIE_PATH_STAT_BAD_CHECKSUM = 0, /* TCP or IPv4 checksum wrong: dropped, as the engine would */
  COOKIE_PATH_STAT_INVALID_SOURCE,   /* martian source: dropped, as the engine would */
  COOKIE_PATH_STAT_IGNORED,          /* RST to any port, or what a listener ignores: dropped */
  COOKIE_PATH_STAT_RESETS,           /* RSTs sent (to a listener's port or a closed one) */
  /* Of those, to a port without a listener. */
  COOKIE_PATH_STAT_CLOSED_PORT_RESETS,
  /* Answers dropped instead of sent: to an off-link peer without a gateway, the engine sends
   * nothing. */
  COOKIE_PATH_STAT_NO_ROUTE,
  COOKIE_PATH_STAT_COUNT,
};

#endif /* TAPSTACK_STACK_LINK_BPF_COOKIE_PATH_ABI_H_ */
