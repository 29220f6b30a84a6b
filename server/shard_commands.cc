#include "server/shard_commands.h"

#include <algorithm>
#include <map>

#include "stack/tcp/queue_steering.h"

namespace tapstack::server {
namespace {

// Runs `command` on every replica of group `id` but the owner's, in loop order.
template <class Command>
void on_replicas(Shards& shards, EndpointId id, Command command) {
  size_t owner = shards.of(id).index;
  for (Shard& s : shards) {
    if (s.index != owner) s.loop.call([&](Engine& engine) { command(engine); });
  }
}

}  // namespace

Result<EndpointId> create_endpoint(Shards& shards) {
  return shards.next().loop.call([](Engine& engine) { return engine.create_endpoint(); });
}

Result<QueriedEndpoint> query_endpoint(Shards& shards, EndpointId id) {
  Shard& owner = shards.of(id);
  auto queried = owner.loop.call([&](Engine& engine) -> Result<QueriedEndpoint> {
    auto info = engine.query(id);
    if (!info.is_ok()) return info.status();
    return QueriedEndpoint{*info, owner.hub.accept_waiters(id)};
  });
  if (!queried.is_ok() || !queried->info.listener || !shards.is_group(id)) return queried;
  on_replicas(shards, id, [&](Engine& engine) {
    auto replica = engine.query(id);
    if (replica.is_ok() && replica->listener)
      add_queues(*queried.value().info.listener, *replica->listener);
  });
  return queried;  // each Accept and stream waits in every loop of a group, the owner's too
}

std::vector<QueriedEndpoint> list_endpoints(Shards& shards) {
  std::map<EndpointId, QueriedEndpoint> all;
  for (Shard& s : shards) {
    s.loop.call([&](Engine& engine) {
      for (const EndpointInfo& e : engine.list()) {
        uint32_t waiters = e.listener ? s.hub.accept_waiters(e.id) : 0;
        auto [it, first] = all.try_emplace(e.id, QueriedEndpoint{e, waiters});
        if (first) continue;  // a group's replica: its queues join the first's
        if (e.listener && it->second.info.listener)
          add_queues(*it->second.info.listener, *e.listener);
        // Each Accept and stream waits in every loop of the group: counted once.
        it->second.accept_waiters = std::max(it->second.accept_waiters, waiters);
      }
    });
  }
  std::vector<QueriedEndpoint> out;
  out.reserve(all.size());
  for (auto& [id, e] : all) out.push_back(std::move(e));
  return out;
}

Status bind_endpoint(Shards& shards, EndpointId id, Ipv4Address address, uint16_t port) {
  auto bound = shards.of(id).loop.call([&](Engine& engine) -> Result<uint16_t> {
    if (Status s = engine.bind(id, address, port); !s.is_ok()) return s;
    return engine.query(id)->local_port;  // port 0 picked one: the replicas take the same
  });
  if (!bound.is_ok() || shards.size() == 1) return bound.status();
  Status failed = Status::ok();
  on_replicas(shards, id, [&](Engine& engine) {
    if (!failed.is_ok()) return;
    auto replica = engine.create_replica(id);
    if (!replica.is_ok()) {
      failed = replica.status();
    } else if (Status s = engine.bind(id, address, *bound); !s.is_ok()) {
      engine.close(id, true);
      failed = s;
    }
  });
  if (failed.is_ok()) {
    shards.add_group(id);
    return failed;
  }
  // Taken in some loop (an active open's port there): in none, then.
  on_replicas(shards, id, [&](Engine& engine) { engine.close(id, true); });
  shards.of(id).loop.call([&](Engine& engine) { engine.unbind(id); });
  return failed;
}

Status listen_endpoint(Shards& shards, EndpointId id, uint32_t backlog,
                       std::optional<uint32_t> syn_backlog) {
  Status s = shards.of(id).loop.call(
      [&](Engine& engine) { return engine.listen(id, backlog, syn_backlog); });
  if (s.is_ok() && shards.is_group(id)) {
    // Each loop's replica has the whole backlog, as each socket of a SO_REUSEPORT group has.
    on_replicas(shards, id, [&](Engine& engine) { engine.listen(id, backlog, syn_backlog); });
  }
  return s;
}

Status set_endpoint_keepalive(Shards& shards, EndpointId id, std::optional<Keepalive> keepalive) {
  Status s =
      shards.of(id).loop.call([&](Engine& engine) { return engine.set_keepalive(id, keepalive); });
  if (s.is_ok() && shards.is_group(id)) {
    on_replicas(shards, id, [&](Engine& engine) { engine.set_keepalive(id, keepalive); });
  }
  return s;
}

Status close_endpoint(Shards& shards, EndpointId id, bool abort) {
  Status s = shards.of(id).loop.call([&](Engine& engine) { return engine.close(id, abort); });
  if (s.is_ok() && shards.is_group(id)) {
    on_replicas(shards, id, [&](Engine& engine) { engine.close(id, abort); });
  }
  if (s.is_ok()) shards.forget(id);
  return s;
}

Result<Shard*> connect_shard(Shards& shards, EndpointId id, Ipv4Address remote, uint16_t port) {
  Shard& owner = shards.of(id);
  if (!shards.is_group(id)) return &owner;
  auto local = owner.loop.call([&](Engine& engine) -> Result<tcp::FourTuple> {
    auto info = engine.query(id);
    if (!info.is_ok()) return info.status();
    return tcp::FourTuple{engine.config().address.address, remote, info->local_port, port};
  });
  if (!local.is_ok()) return local.status();
  const EngineConfig& config = owner.loop.config();
  size_t target = tcp::steering_queue(tcp::steering_hash(*local, config.steering_key),
                                      static_cast<uint32_t>(shards.size()));
  for (Shard& s : shards) {
    if (s.index != target) s.loop.call([&](Engine& engine) { engine.close(id, true); });
  }
  shards.move(id, target);
  return &shards[target];
}

}  // namespace tapstack::server
