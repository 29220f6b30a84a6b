/* SipHash-2-4 of 16 bytes for BPF programs: siphash_4u32 (stack/tcp/siphash.cc), the words laid
 * out little-endian. A function of its own (__noinline) so that a program calling it several
 * times keeps one copy of the rounds. */
#ifndef TAPSTACK_STACK_LINK_BPF_SIPHASH_BPF_H_
#define TAPSTACK_STACK_LINK_BPF_SIPHASH_BPF_H_

#include <linux/types.h>

#include <bpf/bpf_helpers.h>

#define SIPHASH_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPHASH_ROUND          \
  do {                         \
    v0 += v1;                  \
    v1 = SIPHASH_ROTL(v1, 13); \
    v1 ^= v0;                  \
    v0 = SIPHASH_ROTL(v0, 32); \
    v2 += v3;                  \
    v3 = SIPHASH_ROTL(v3, 16); \
    v3 ^= v2;                  \
    v0 += v3;                  \
    v3 = SIPHASH_ROTL(v3, 21); \
    v3 ^= v0;                  \
    v2 += v1;                  \
    v1 = SIPHASH_ROTL(v1, 17); \
    v1 ^= v2;                  \
    v2 = SIPHASH_ROTL(v2, 32); \
  } while (0)
#define SIPHASH_COMPRESS(m) \
  do {                      \
    v3 ^= (m);              \
    SIPHASH_ROUND;          \
    SIPHASH_ROUND;          \
    v0 ^= (m);              \
  } while (0)

/* SipHash-2-4 of the two little-endian words m0, m1 (16 bytes). */
static __noinline __u64 siphash_2u64(__u64 k0, __u64 k1, __u64 m0, __u64 m1) {
  __u64 v0 = k0 ^ 0x736f6d6570736575ull;
  __u64 v1 = k1 ^ 0x646f72616e646f6dull;
  __u64 v2 = k0 ^ 0x6c7967656e657261ull;
  __u64 v3 = k1 ^ 0x7465646279746573ull;
  SIPHASH_COMPRESS(m0);
  SIPHASH_COMPRESS(m1);
  SIPHASH_COMPRESS(16ull << 56);
  v2 ^= 0xff;
  SIPHASH_ROUND;
  SIPHASH_ROUND;
  SIPHASH_ROUND;
  SIPHASH_ROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

static __always_inline __u64 siphash_4u32(__u64 k0, __u64 k1, __u32 a, __u32 b, __u32 c, __u32 d) {
  return siphash_2u64(k0, k1, (__u64)b << 32 | a, (__u64)d << 32 | c);
}

#endif /* TAPSTACK_STACK_LINK_BPF_SIPHASH_BPF_H_ */
