// A SYN-flood generator for tests and benchmarks: Linux-like SYNs (tcp_frames.h) with random
// sources from an off-link prefix, random ports and sequence numbers, written with sendmmsg to
// an AF_PACKET socket on the kernel side of the engine's TAP, so they reach the engine as if
// from the wire while the kernel's own stack never sees them. In its ACK mode it sends spoofed
// bare ACKs instead (Linux's final handshake ACK with random SEG.SEQ, SEG.ACK and timestamps):
// the flood that makes a listener in cookie mode check a cookie per segment.
//
// Network safety: it sends only inside a network namespace of its own (run it under
// `ip netns exec NS`, as tests/integration/in_netns.sh does), refuses an interface that does
// not exist there, and refuses any address outside 198.18.0.0/15 (RFC 2544's benchmarking
// range), for the destination and the spoofed sources alike.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "stack/clock.h"
#include "stack/header/addresses.h"
#include "stack/status.h"

namespace tapstack::tools {

// RFC 2544's benchmarking range: the only addresses the generator will write.
inline constexpr Ipv4Subnet kBenchmarkRange{{0xc6120000}, 15};  // 198.18.0.0/15

// What the flood sends.
enum class FloodKind {
  kSyn,  // SYNs, as tcp_frames.h's write_syn_frame
  kAck,  // bare ACKs, as its write_ack_frame: forged cookie ACKs for a listener in cookie mode
};

struct SynFloodConfig {
  FloodKind kind = FloodKind::kSyn;
  std::string interface;  // the TAP as the kernel sees it, e.g. "tap1"
  MacAddress destination_mac{{0x02, 0, 0, 0, 0, 0x02}};  // the engine's (its default)
  Ipv4Address destination;
  uint16_t destination_port = 80;
  Ipv4Subnet sources{{0xc6130000}, 16};  // 198.19.0.0/16: off-link for any 198.18.N.0/24
  // The flood ends at whichever bound comes first (or when the caller's stop flag is set).
  uint64_t max_packets = 100'000;  // frames offered
  Duration max_duration = seconds(10);
  uint64_t rate = 0;    // packets per second; 0 = as fast as the kernel takes them
  uint32_t batch = 64;  // frames per sendmmsg call, 1..1024
  uint64_t seed = 1;
  // A frame the TAP refuses (its queue is full, or a filter dropped it) is lost, as a spoofed
  // SYN on a wire would be, and the next one is new. With resend_refused, the same frame is
  // offered again, the CPU given away meanwhile, until it is taken: for measuring how fast the
  // engine reads when every SYN must reach it.
  bool resend_refused = false;
  // Off (the default): the frames take the kernel's ordinary transmit path, as any frame routed
  // to the TAP does: its tc egress programs (the kernel cookie path) and its qdisc. A frame the
  // TAP's queue drops behind the qdisc is not reported to the sender; the report counts those
  // from the interface's transmit drops. On: straight to the TAP's queue, past tc and the qdisc,
  // so that every refusal is reported (resend_refused needs that), but no tc program sees them.
  bool bypass_qdisc = false;
};

struct SynFloodReport {
  uint64_t sent = 0;     // frames the TAP took, for the engine to read
  uint64_t refused = 0;  // frames it refused and that were not offered again
  // sendmmsg calls that stopped at a refused frame (the TAP's queue was full or a filter
  // dropped the frame).
  uint64_t send_errors = 0;
  // The interface's transmit drops while the flood ran (the TAP's queue was full behind the
  // qdisc): frames sent that never reached the engine, the legitimate ones' included.
  uint64_t link_dropped = 0;
  Duration elapsed{};
  double packets_per_second() const;  // taken
  double offered_per_second() const;  // taken or refused
};

// Refuses the host's network namespace (PID 1's): only a namespace made for the test will do.
Status require_own_network_namespace();

// Checks the addresses, the batch size, the interface and the namespace; says why if refused.
Status check_syn_flood(const SynFloodConfig& config);

// Floods until a bound is reached or `*stop` becomes true. Refuses what check_syn_flood refuses.
Result<SynFloodReport> run_syn_flood(const SynFloodConfig& config,
                                     const std::atomic<bool>* stop = nullptr);

}  // namespace tapstack::tools
