#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "stack/tcp/siphash.h"
#include "stack/tcp/syn_cookies.h"

namespace tapstack::tcp {
namespace {

const FourTuple kTuple{Ipv4Address{0xc6120002}, Ipv4Address{0xc6120001}, 80, 40000};
const SynCookies::Secret kSecret{{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL},
                                 {0x1716151413121110ULL, 0x1f1e1d1c1b1a1918ULL}};
constexpr Time kNow = 1000 * kCookieTick;

void BM_SipHash4u32(benchmark::State& state) {
  const SipKey key{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  uint32_t d = 0;
  for (auto _ : state) {
    // A changing input keeps the compiler from hoisting the hash out of the loop.
    benchmark::DoNotOptimize(siphash_4u32(key, 0xc6120001, 0xc6120002, 40000u << 16 | 80, d++));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SipHash4u32);

void BM_CookieMake(benchmark::State& state) {
  const SynCookies cookies(kSecret);
  uint32_t peer_isn = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cookies.make_isn(kTuple, peer_isn++, 1460, kNow));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CookieMake);

// Valid cookies: the full cost (both hashes, current secret), as for a real final ACK.
void BM_CookieCheck(benchmark::State& state) {
  const SynCookies cookies(kSecret);
  constexpr size_t kCount = 1024;
  std::vector<uint32_t> isns(kCount);
  for (size_t i = 0; i < kCount; ++i) {
    isns[i] = cookies.make_isn(kTuple, static_cast<uint32_t>(i), 1460, kNow);
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cookies.check_isn(kTuple, static_cast<uint32_t>(i), isns[i], kNow));
    i = (i + 1) % kCount;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CookieCheck);

}  // namespace
}  // namespace tapstack::tcp
