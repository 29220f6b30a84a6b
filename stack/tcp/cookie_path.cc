#include "stack/tcp/cookie_path.h"

#include <algorithm>

namespace tapstack::tcp {
namespace {

// The program reads while the engine writes: every field it may read mid-update is stored
// whole, and the switches (ready, current) are released after what they guard.
template <class T>
void store(T& field, T value, std::memory_order order = std::memory_order_relaxed) {
  std::atomic_ref<T>(field).store(value, order);
}

void write_secret(cookie_path_secret& out, const SynCookies::Secret& secret) {
  store<__u64>(out.h0[0], secret.h0.k0);
  store<__u64>(out.h0[1], secret.h0.k1);
  store<__u64>(out.h1[0], secret.h1.k0);
  store<__u64>(out.h1[1], secret.h1.k1);
}

__u64 valid_until(const SynCookies& cookies) {
  return cookies.previous() ? static_cast<__u64>(cookies.previous_valid_until().count()) : 0;
}

}  // namespace

void CookiePath::attach(const CookiePathMemory& memory, const CookiePathIdentity& identity,
                        const SynCookies& cookies) {
  memory_ = memory;
  hash_ = FourTupleHash{identity.tuple_seed};
  cookie_path_config& c = *memory_.config;
  store<__u32>(c.ready, 0);
  write_secret(c.secrets[0], cookies.current());
  if (cookies.previous()) write_secret(c.secrets[1], *cookies.previous());
  store<__u64>(c.previous_valid_until, valid_until(cookies));
  store<__u32>(c.current, 0);
  c.isn_key[0] = identity.isn_key.k0;
  c.isn_key[1] = identity.isn_key.k1;
  c.tuple_seed = identity.tuple_seed;
  c.address = identity.address.address.value;
  c.netmask = identity.address.mask();
  c.gateway = identity.gateway ? identity.gateway->value : 0;
  std::copy(identity.mac.bytes.begin(), identity.mac.bytes.end(), c.mac);
  c.mss = identity.mss;
  c.syn_window = identity.syn_window;
  c.window_scale = identity.window_scale;
  store<__u32>(c.ready, 1, std::memory_order_release);
}

void CookiePath::detach() {
  if (!attached()) return;
  store<__u32>(memory_.config->ready, 0, std::memory_order_release);
  memory_ = {};
}

void CookiePath::publish_secrets(const SynCookies& cookies) {
  if (!attached()) return;
  cookie_path_config& c = *memory_.config;
  uint32_t next = std::atomic_ref<__u32>(c.current).load(std::memory_order_relaxed) ^ 1;
  // The free slot held the secret before the previous one, which checks nothing any more.
  write_secret(c.secrets[next], cookies.current());
  store<__u64>(c.previous_valid_until, valid_until(cookies));
  store<__u32>(c.current, next, std::memory_order_release);
}

void CookiePath::set_listener(uint16_t port, const ListenerState& state) {
  if (!attached()) return;
  cookie_path_listener& l = memory_.listeners[port];
  store<__u64>(l.cookies_checkable_until,
               state.cookies_checkable_until
                   ? static_cast<__u64>(std::max<Time>(*state.cookies_checkable_until, {}).count())
                   : ~__u64{0});
  store<__u32>(l.accept_queue_full, state.accept_queue_full ? 1 : 0);
  store<__u32>(l.mode, state.cookie_mode ? COOKIE_PATH_ON : COOKIE_PATH_OFF);
  store<__u32>(l.listening, 1, std::memory_order_release);
}

void CookiePath::clear_listener(uint16_t port) {
  if (!attached()) return;
  cookie_path_listener& l = memory_.listeners[port];
  store<__u32>(l.listening, 0);
  store<__u32>(l.mode, COOKIE_PATH_OFF);
  store<__u32>(l.accept_queue_full, 0);
  store<__u64>(l.cookies_checkable_until, 0);
}

void CookiePath::adjust_live(const FourTuple& tuple, uint32_t delta) {
  if (!attached()) return;
  // Two slots per tuple, from the two halves of one 64-bit hash: the program takes a tuple for
  // the engine's only when both are counted, so a spoofed segment passes by a collision with
  // the records of n tuples about (2n / slots)^2 of the time rather than n / slots.
  uint64_t hash = hash_(tuple);
  for (uint64_t half : {hash, hash >> 32}) {
    uint32_t& slot = memory_.live[half & (COOKIE_PATH_LIVE_SLOTS - 1)];
    // Before the engine sends anything on a new record, so the program sees it before the
    // answer to what the engine sent can arrive (the write to the TAP orders the two).
    store<uint32_t>(slot, slot + delta, std::memory_order_release);
  }
}

}  // namespace tapstack::tcp
