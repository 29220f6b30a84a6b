// The engine's side of the kernel cookie path (stack/link/bpf/cookie_path.bpf.c): the memory it
// shares with the BPF program on the TAP's egress, and what the engine keeps in step there.
//
// The program answers SYNs for listeners in cookie mode before they reach the TAP's queue, and
// checks their cookie ACKs, with the engine's own secrets, so a connection is still made in one
// place only: here, from the cookie ACK the program passes on. For that the engine publishes
// what the program needs to build exactly its SYN-ACK (secrets, addresses, MSS, window), which
// listeners are in cookie mode, whether their accept queues are full, and how many of its
// records (connections, half-open, TIME-WAIT) hash to each slot of the live-tuple counts: a
// segment whose slot is empty belongs to none of them, so the listener would be the one to
// answer it.
//
// Sans-I/O: plain stores into memory someone else mapped (the loader, link/cookie_path_program.h,
// or a test's buffer). Without memory, every call does nothing and the engine answers every SYN
// itself, as before.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "stack/clock.h"
#include "stack/link/bpf/cookie_path_abi.h"
#include "stack/tcp/four_tuple.h"
#include "stack/tcp/syn_cookies.h"

namespace tapstack::tcp {

struct CookiePathMemory {
  cookie_path_config* config = nullptr;
  cookie_path_listener* listeners = nullptr;  // 65536, by port
  uint32_t* live = nullptr;                   // COOKIE_PATH_LIVE_SLOTS
};

// What the program builds its SYN-ACKs from, besides the secrets.
struct CookiePathIdentity {
  MacAddress mac;
  Ipv4Subnet address;
  std::optional<Ipv4Address> gateway;  // without one, off-link peers get no answer
  uint16_t mss = 0;
  uint16_t syn_window = 0;
  uint8_t window_scale = 0;
  SipKey isn_key;
  uint64_t tuple_seed = 0;
};

class CookiePath {
 public:
  bool attached() const { return memory_.config != nullptr; }

  // Fills the configuration in (ready last) and keeps it in step from now on.
  void attach(const CookiePathMemory& memory, const CookiePathIdentity& identity,
              const SynCookies& cookies);
  // Tells the program to pass every frame, and writes nothing more.
  void detach();
  // After SynCookies::rotate: the new secret in the free slot, then the switch to it.
  void publish_secrets(const SynCookies& cookies);

  // What the program needs to answer segments for `port` that belong to no record.
  struct ListenerState {
    bool cookie_mode = false;
    bool accept_queue_full = false;
    std::optional<Time> cookies_checkable_until;  // nullopt: always
  };
  void set_listener(uint16_t port, const ListenerState& state);
  // The port has no listener any more: its segments are answered with RST.
  void clear_listener(uint16_t port);

  // One more (or one fewer) record of the engine's on `tuple`.
  void add_live(const FourTuple& tuple) { adjust_live(tuple, 1); }
  void remove_live(const FourTuple& tuple) { adjust_live(tuple, ~uint32_t{0}); }

 private:
  void adjust_live(const FourTuple& tuple, uint32_t delta);

  CookiePathMemory memory_;
  FourTupleHash hash_;
};

}  // namespace tapstack::tcp
