// The engine's passive-open paths on one core, in memory (passive_open_bench.h), in items per
// second. The roadmap's targets: 5 M cookie SYN-ACKs/s and 2 M full passive handshakes/s.
#include <benchmark/benchmark.h>

#include "stack/capture/captures.h"
#include "stack/header/ethernet.h"
#include "stack/header/ipv4.h"
#include "stack/header/tcp.h"
#include "stack/header/tcp_options.h"
#include "tests/bench/passive_open_bench.h"

namespace tapstack::bench {
namespace {

using tcp::SynCookieMode;

// Fails the benchmark when a counter says the engine did not take the path being measured.
void expect(benchmark::State& state, uint64_t counter, uint64_t wanted, const char* what) {
  if (counter != wanted) state.SkipWithError(what);
}

// The normal path: SYN -> half-open record -> SYN-ACK. Every SYN is a new tuple: after each
// ring the listener is closed and opened again, which frees the ring's records; that cost is
// part of the measurement, as a record's end is part of its life.
void BM_SynToSynAck(benchmark::State& state) {
  PassiveOpenBench b(SynCookieMode::kAuto, kRing);
  size_t i = 0;
  for (auto _ : state) {
    b.engine().receive_frame(b.syns()[i], kNow);
    if (++i == kRing) {
      b.relisten();
      i = 0;
    }
  }
  const Stats& s = b.engine().stats();
  expect(state, s.synacks_sent.get(), state.iterations(), "not every SYN got a SYN-ACK");
  expect(state, s.syncookies_sent.get(), 0, "cookies were sent");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SynToSynAck);

// The flood path: SYN -> cookie SYN-ACK, no state at all.
void BM_SynToCookieSynAck(benchmark::State& state) {
  PassiveOpenBench b(SynCookieMode::kAlways, kRing);
  size_t i = 0;
  for (auto _ : state) {
    b.engine().receive_frame(b.syns()[i], kNow);
    i = (i + 1) % kRing;
  }
  expect(state, b.engine().stats().syncookies_sent.get(), state.iterations(), "cookies missing");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SynToCookieSynAck);

// SYN, SYN-ACK, the final ACK built from it, accept, and an abortive close (one RST out).
// False if there was no connection to accept.
bool full_passive_handshake(PassiveOpenBench& b, size_t i) {
  Engine& e = b.engine();
  e.receive_frame(b.syns()[i], kNow);
  b.answer(b.acks()[i]);
  e.receive_frame(b.acks()[i], kNow);
  auto id = e.accept(b.listener());
  if (!id.is_ok()) return false;
  e.close(*id, true);
  return true;
}

void BM_FullPassiveHandshake(benchmark::State& state) {
  PassiveOpenBench b(SynCookieMode::kAuto, kRing);
  Engine& e = b.engine();
  size_t i = 0;
  for (auto _ : state) {
    if (!full_passive_handshake(b, i)) {
      state.SkipWithError("no connection to accept");
      break;
    }
    i = (i + 1) % kRing;
  }
  expect(state, e.stats().passive_opens.get(), state.iterations(), "handshakes missing");
  expect(state, e.endpoint_count(), 1, "connections left behind");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FullPassiveHandshake);

// The same with a packet capture running (stack/capture): its hook sees the four frames of each
// handshake. Arg 0: no capture (the hook's one test per frame), 1: a capture of another port
// (every frame parsed, none taken), 2: a capture of the listener's port (every frame copied),
// 3: of its handshakes only (SYN, SYN-ACK, final ACK and RST copied; the handshake table kept).
// The reader's draining of the ring is outside the timing, as it runs on another thread.
void BM_FullPassiveHandshakeCaptured(benchmark::State& state) {
  PassiveOpenBench b(SynCookieMode::kAuto, kRing);
  Engine& e = b.engine();
  auto ring = std::make_shared<capture::CaptureRing>(64 << 20);
  const int64_t setup = state.range(0);
  if (setup == 1) e.captures().attach(1, {.local_port = kListenPort + 1}, ring);
  if (setup == 2) e.captures().attach(1, {.local_port = kListenPort}, ring);
  if (setup == 3) e.captures().attach(1, {.local_port = kListenPort, .handshake_only = true}, ring);
  std::vector<capture::Frame> drained;
  size_t i = 0;
  for (auto _ : state) {
    if (!full_passive_handshake(b, i)) {
      state.SkipWithError("no connection to accept");
      break;
    }
    if (++i == kRing) {
      i = 0;
      state.PauseTiming();
      drained.clear();
      ring->drain(drained, SIZE_MAX);
      state.ResumeTiming();
    }
  }
  expect(state, e.stats().passive_opens.get(), state.iterations(), "handshakes missing");
  expect(state, ring->lost(), 0, "the capture lost frames");
  expect(state, ring->pushed(), setup >= 2 ? 4 * state.iterations() : 0, "frames not captured");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FullPassiveHandshakeCaptured)->Arg(0)->Arg(1)->Arg(2)->Arg(3);

// A final ACK carrying a valid cookie -> connection, accept, abortive close. The ACKs are
// built before timing from the cookie SYN-ACKs; a cookie stays valid however often it is used.
void BM_CookieValidation(benchmark::State& state) {
  PassiveOpenBench b(SynCookieMode::kAlways, kRing);
  Engine& e = b.engine();
  for (size_t i = 0; i < kRing; ++i) {
    e.receive_frame(b.syns()[i], kNow);
    b.answer(b.acks()[i]);
  }
  size_t i = 0;
  for (auto _ : state) {
    e.receive_frame(b.acks()[i], kNow);
    auto id = e.accept(b.listener());
    if (!id.is_ok()) {
      state.SkipWithError("cookie not accepted");
      break;
    }
    e.close(*id, true);
    i = (i + 1) % kRing;
  }
  expect(state, e.stats().syncookies_validated.get(), state.iterations(), "cookies failed");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CookieValidation);

// What the engine does to every frame before TCP sees it: Ethernet, IPv4 and TCP views with
// both checksums, then the options.
void BM_ParseFrame(benchmark::State& state) {
  PassiveOpenBench b(SynCookieMode::kAlways, kRing);
  size_t i = 0;
  for (auto _ : state) {
    auto eth = header::EthernetView::parse(b.syns()[i]);
    auto ip = header::Ipv4View::parse(eth->payload());
    auto tcp = header::TcpView::parse(ip->payload());
    bool ok = ip->checksum_ok() && tcp->checksum_ok(ip->source(), ip->destination());
    header::TcpOptions options = header::parse_tcp_options(tcp->options());
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(options);
    i = (i + 1) % kRing;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseFrame);

}  // namespace
}  // namespace tapstack::bench
