// The SYN shield's filter (stack/link/syn_shield_program.h) as the kernel runs it on every frame
// queued for the TAP, in the sender's context: what it adds to each SYN a client sends, and to
// every other frame. The kernel runs the program on our frames (BPF_PROG_TEST_RUN) and reports
// the time, which includes its own timer reads around one run. Needs CAP_BPF.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>

#include "stack/link/syn_shield_program.h"
#include "tests/tools/tcp_frames.h"

namespace tapstack::link {
namespace {

// Runs `program` once per iteration on the frame `next(frame, i)` writes, timed by the kernel.
template <size_t N, class Next>
void time_runs(benchmark::State& state, const bpf::Fd& program, Next&& next) {
  std::array<uint8_t, N> frame{};
  uint64_t i = 0;
  for (auto _ : state) {
    next(std::span<uint8_t, N>(frame), i++);
    auto run = bpf::run_socket_filter(program, frame);
    if (!run.is_ok() || run->verdict == 0) {
      state.SkipWithError("the filter failed, or dropped a frame while off");
      return;
    }
    state.SetIterationTime(run->duration_ns * 1e-9);
  }
  state.SetItemsProcessed(state.iterations());
}

// The shield's filter, off (as it is outside a flood), on the frames `next` writes.
template <size_t N, class Next>
void run_filter(benchmark::State& state, Next&& next) {
  auto filter = SynShieldFilter::load(1);
  if (!filter.is_ok()) {
    state.SkipWithError(filter.status().message.c_str());
    return;
  }
  time_runs<N>(state, filter->program(), next);
}

// A SYN it has not seen: hashed and noted in the bitmap (a random word, as a flood's would be).
void BM_ShieldNewSyn(benchmark::State& state) {
  run_filter<tools::kSynFrameSize>(state, [](auto frame, uint64_t i) {
    tools::write_syn_frame(frame, tools::example_segment(static_cast<uint16_t>(1024 + i % 60000),
                                                         static_cast<uint32_t>(i * 2654435761u)));
  });
}
BENCHMARK(BM_ShieldNewSyn)->UseManualTime();

// The same SYN again (a retransmission): found in the bitmap.
void BM_ShieldSeenSyn(benchmark::State& state) {
  run_filter<tools::kSynFrameSize>(
      state, [](auto frame, uint64_t) { tools::write_syn_frame(frame, tools::example_segment()); });
}
BENCHMARK(BM_ShieldSeenSyn)->UseManualTime();

// Any other frame (here a client's final ACK): looked at and passed.
void BM_ShieldOtherFrame(benchmark::State& state) {
  run_filter<tools::kAckFrameSize>(
      state, [](auto frame, uint64_t) { tools::write_ack_frame(frame, tools::example_segment()); });
}
BENCHMARK(BM_ShieldOtherFrame)->UseManualTime();

// The kernel's own cost of one timed test run, for scale: a filter that passes every frame
// without looking at it.
void BM_ShieldBaselinePassAll(benchmark::State& state) {
  bpf::Assembler a;
  a.load(BPF_W, bpf::Assembler::r0, bpf::Assembler::r1, offsetof(__sk_buff, len));
  a.exit();
  auto program = bpf::load_socket_filter(a.finish(), "pass_all");
  if (!program.is_ok()) {
    state.SkipWithError(program.status().message.c_str());
    return;
  }
  time_runs<tools::kAckFrameSize>(state, program.value(), [](auto frame, uint64_t) {
    tools::write_ack_frame(frame, tools::example_segment());
  });
}
BENCHMARK(BM_ShieldBaselinePassAll)->UseManualTime();

}  // namespace
}  // namespace tapstack::link
