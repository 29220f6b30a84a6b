// What the metrics collector and GetStats need from the engine's tables, copied on the loop
// thread (nothing else may touch the tables) and handed back with a timeout, so that a scrape
// never hangs on a busy or stopped loop.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "server/shards.h"

namespace tapstack::server {

struct ListenerSnapshot {
  EndpointId id = 0;
  std::string local;  // "198.18.0.2:8080", "[::]:8080"
  uint16_t port = 0;
  ListenerInfo queues;
};

struct EngineSnapshot {
  std::vector<ListenerSnapshot> listeners;
  std::array<size_t, kTcpStateCount> endpoints_by_state{};
  // Connections (endpoints with a peer) by the peer's family (index: IpFamily).
  std::array<size_t, 2> connections_by_family{};
};

// Every loop's, as one stack's: a group's listener once, with the queues of all its replicas.
// Nothing if a loop did not answer within `timeout`.
std::optional<EngineSnapshot> take_snapshot(Shards& shards, Duration timeout);

}  // namespace tapstack::server
