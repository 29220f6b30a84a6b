// The TAP's queue steering (stack/link/bpf/queue_steering.bpf.c) loaded with libbpf: a socket
// filter program that, attached to a multi-queue TAP with TUNSETSTEERINGEBPF, sends each TCP
// frame the kernel writes into the TAP to the queue tcp::steering_queue names for its tuple, so
// that an engine loop reads the answers to the SYNs it sent.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "stack/status.h"
#include "stack/tcp/siphash.h"

struct queue_steering_bpf;  // the skeleton bpftool generates (queue_steering.skel.h)

namespace tapstack::link {

class QueueSteeringProgram {
 public:
  // Opens the program, sets steering_hash's key and loads it. Needs CAP_BPF (or CAP_SYS_ADMIN);
  // the error says what is missing.
  static Result<std::unique_ptr<QueueSteeringProgram>> load(const tcp::SipKey& key);
  ~QueueSteeringProgram();
  QueueSteeringProgram(const QueueSteeringProgram&) = delete;
  QueueSteeringProgram& operator=(const QueueSteeringProgram&) = delete;

  int program_fd() const;

  // Makes the program choose the queues of the TAP `tap_fd` is attached to (any of its queues'
  // descriptors: the program is the device's). The kernel holds its own reference, so the
  // steering stays while the device lives, whatever becomes of this object.
  Status attach(int tap_fd) const;

  // Runs the program once on `frame` (BPF_PROG_TEST_RUN): its return value, the steering hash.
  Result<uint32_t> run_once(std::span<const uint8_t> frame) const;

 private:
  QueueSteeringProgram() = default;

  queue_steering_bpf* skeleton_ = nullptr;
};

}  // namespace tapstack::link
