// What an Endpoints command means across the daemon's engine loops (server/shards.h): on a group
// it runs on every replica, and the answer sums what the replicas queue. Each command and the
// query of its answer run in one turn of the endpoint's own loop, so nothing comes between
// them; with one loop each is exactly the engine's own command. Blocking: they wait for the
// loops (EngineLoop::call), as unary commands always did.
#pragma once

#include <optional>
#include <vector>

#include "server/shards.h"
#include "stack/endpoint_info.h"
#include "stack/header/ip_address.h"
#include "stack/status.h"
#include "stack/tcp/admission_policy.h"

namespace tapstack::server {

struct QueriedEndpoint {
  EndpointInfo info;
  uint32_t accept_waiters = 0;  // a listener's Accepts and streams (each waits in every loop)
};
using Answer = Result<QueriedEndpoint>;

Answer create_endpoint(Shards& shards);
Answer query_endpoint(Shards& shards, EndpointId id);
// Every endpoint, a group once, in id order.
std::vector<QueriedEndpoint> list_endpoints(Shards& shards);
// A bound endpoint becomes a group: a replica bound to the same port in every other loop, so
// that a port is taken in every loop or in none.
Answer bind_endpoint(Shards& shards, EndpointId id, const IpAddress& address, uint16_t port,
                     bool v6_only = false);
// With `admission`, the listener's policy is set in the same loop turn as the listen; without,
// a listener keeps its own. With several loops each replica gets its share of the policy
// (admission_share.h); the answer shows the policy as given.
Answer listen_endpoint(Shards& shards, EndpointId id, uint32_t backlog,
                       std::optional<uint32_t> syn_backlog,
                       const std::optional<tcp::AdmissionPolicy>& admission = std::nullopt);
// Sets (nullopt: clears) a listener's admission policy on every replica, as listen_endpoint.
Answer set_endpoint_admission(Shards& shards, EndpointId id,
                              const std::optional<tcp::AdmissionPolicy>& admission);
Answer set_endpoint_keepalive(Shards& shards, EndpointId id, std::optional<Keepalive> keepalive);
// No-delay and the user timeout; a group's replicas all take them, for their connections.
Answer set_endpoint_options(Shards& shards, EndpointId id, const OptionsChange& change);
Status close_endpoint(Shards& shards, EndpointId id, bool abort);
// The loop `id` connects from: its own; for a bound group, the loop its 4-tuple steers to (the
// answers arrive there; the steering program sends every IPv6 frame to the first loop).
// Nothing changes until the connect has started there: connect_started() then moves the id to
// that loop and closes the other replicas.
Shard& connect_shard(Shards& shards, EndpointId id, const IpAddress& remote, uint16_t port);
void connect_started(Shards& shards, EndpointId id, Shard& from);

}  // namespace tapstack::server
