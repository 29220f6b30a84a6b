/* What impair.bpf.c counts, shared with its loader (tapstack_impair), which reads it from the
 * program's global data. Segments: a GSO super-packet counts as the segments it carries. */
#pragma once

#include <linux/types.h>

struct impair_counters {
  __u64 data_segments; /* IPv4 TCP segments with data that passed the hook */
  __u64 dropped;
  __u64 duplicated;
  __u64 reordered; /* held back until the next data segment */
  __u64 released;  /* held segments sent after the next one */
};
