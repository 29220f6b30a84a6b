#include "server/shard_commands.h"

#include <algorithm>
#include <map>

#include "server/admission_share.h"
#include "stack/tcp/queue_steering.h"

namespace tapstack::server {
namespace {

// Runs `command` on every replica of group `id` but the owner's, in loop order; the first
// failure, if any.
template <class Command>
Status on_replicas(Shards& shards, EndpointId id, Command command) {
  size_t owner = shards.of(id).index;
  Status first = Status::ok();
  for (Shard& s : shards) {
    if (s.index == owner) continue;
    Status r = s.loop.call([&](Engine& engine) -> Status { return command(engine); });
    if (first.is_ok()) first = r;
  }
  return first;
}

// `command`, then the endpoint's snapshot, in one turn of its own loop.
template <class Command>
Answer in_owner_turn(Shards& shards, EndpointId id, Command command) {
  Shard& owner = shards.of(id);
  return owner.loop.call([&](Engine& engine) -> Answer {
    if (Status s = command(engine); !s.is_ok()) return s;
    auto info = engine.query(id);
    if (!info.is_ok()) return info.status();
    return QueriedEndpoint{*info, owner.hub.accept_waiters(id)};
  });
}

// A group listener's answer holds what every replica queues, and its admission policy as set
// (each replica holds a share of it).
Answer with_replicas(Shards& shards, EndpointId id, Answer answer) {
  if (!answer.is_ok() || !answer.value().info.listener || !shards.is_group(id)) return answer;
  ListenerInfo& listener = *answer.value().info.listener;
  on_replicas(shards, id, [&](Engine& engine) {
    auto replica = engine.query(id);
    if (replica.is_ok() && replica->listener) add_queues(listener, *replica->listener);
    return Status::ok();
  });
  listener.admission = shards.group_admission(id);
  return answer;  // each Accept and stream waits in every loop of a group, the owner's too
}

// `command` in the owner's loop and then, for a group, in every replica's, so that each loop's
// replica (and the connections it accepts) has the same setting; then `done()` if all went
// well; the owner's snapshot.
template <class Command, class Done = void (*)()>
Answer on_group(
    Shards& shards, EndpointId id, Command command, Done done = [] {}) {
  Answer answer = in_owner_turn(shards, id, command);
  if (!answer.is_ok()) return answer;
  if (shards.is_group(id)) {
    if (Status s = on_replicas(shards, id, command); !s.is_ok()) return s;
  }
  done();
  return with_replicas(shards, id, std::move(answer));
}

// The policy each replica of `id` applies (its share with several loops).
std::optional<tcp::AdmissionPolicy> replica_admission(
    Shards& shards, EndpointId id, const std::optional<tcp::AdmissionPolicy>& policy) {
  if (!policy) return std::nullopt;
  return admission_share(*policy, shards.is_group(id) ? shards.size() : 1);
}

}  // namespace

Answer create_endpoint(Shards& shards) {
  Shard& loop = shards.next();
  return loop.loop.call([&](Engine& engine) -> Answer {
    auto id = engine.create_endpoint();
    if (!id.is_ok()) return id.status();
    return QueriedEndpoint{*engine.query(*id), 0};
  });
}

Answer query_endpoint(Shards& shards, EndpointId id) {
  return with_replicas(shards, id, in_owner_turn(shards, id, [](Engine&) { return Status::ok(); }));
}

std::vector<QueriedEndpoint> list_endpoints(Shards& shards) {
  std::map<EndpointId, QueriedEndpoint> all;
  for (Shard& s : shards) {
    s.loop.call([&](Engine& engine) {
      for (const EndpointInfo& e : engine.list()) {
        uint32_t waiters = e.listener ? s.hub.accept_waiters(e.id) : 0;
        auto [it, first] = all.try_emplace(e.id, QueriedEndpoint{e, waiters});
        if (first) continue;  // a group's replica: its queues join the first's
        if (e.listener && it->second.info.listener) {
          add_queues(*it->second.info.listener, *e.listener);
          it->second.info.listener->admission = shards.group_admission(e.id);  // not a share
        }
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

Answer bind_endpoint(Shards& shards, EndpointId id, const IpAddress& address, uint16_t port,
                     bool v6_only) {
  Answer bound = in_owner_turn(
      shards, id, [&](Engine& engine) { return engine.bind(id, address, port, v6_only); });
  if (!bound.is_ok() || shards.size() == 1) return bound;
  uint16_t taken = bound->info.local_port;  // port 0 picked one: the replicas take the same
  Status failed = on_replicas(shards, id, [&](Engine& engine) -> Status {
    auto replica = engine.create_replica(id);
    if (!replica.is_ok()) return replica.status();
    Status s = engine.bind(id, address, taken, v6_only);
    if (!s.is_ok()) engine.close(id, true);
    return s;
  });
  if (failed.is_ok()) {
    shards.add_group(id);
    return bound;
  }
  // Taken in some loop (an active open's port there): in none, then.
  on_replicas(shards, id, [&](Engine& engine) {
    engine.close(id, true);  // NOT_FOUND where no replica was made
    return Status::ok();
  });
  shards.of(id).loop.call([&](Engine& engine) { engine.unbind(id); });
  return failed;
}

Answer listen_endpoint(Shards& shards, EndpointId id, uint32_t backlog,
                       std::optional<uint32_t> syn_backlog,
                       const std::optional<tcp::AdmissionPolicy>& admission) {
  const std::optional<tcp::AdmissionPolicy> share = replica_admission(shards, id, admission);
  // Each loop's replica has the whole backlog, as each socket of a SO_REUSEPORT group has. The
  // policy in the same turn: the loop reads no SYN between the two.
  return on_group(
      shards, id,
      [&](Engine& engine) {
        Status s = engine.listen(id, backlog, syn_backlog);
        if (s.is_ok() && share) s = engine.set_admission(id, share);
        return s;
      },
      [&] {
        if (admission && shards.is_group(id)) shards.set_group_admission(id, admission);
      });
}

Answer set_endpoint_admission(Shards& shards, EndpointId id,
                              const std::optional<tcp::AdmissionPolicy>& admission) {
  const std::optional<tcp::AdmissionPolicy> share = replica_admission(shards, id, admission);
  return on_group(
      shards, id, [&](Engine& engine) { return engine.set_admission(id, share); },
      [&] {
        if (shards.is_group(id)) shards.set_group_admission(id, admission);
      });
}

Answer set_endpoint_keepalive(Shards& shards, EndpointId id, std::optional<Keepalive> keepalive) {
  return on_group(shards, id, [&](Engine& engine) { return engine.set_keepalive(id, keepalive); });
}

Answer set_endpoint_options(Shards& shards, EndpointId id, const OptionsChange& change) {
  return on_group(shards, id, [&](Engine& engine) { return engine.set_options(id, change); });
}

Status close_endpoint(Shards& shards, EndpointId id, bool abort) {
  Shard& owner = shards.of(id);
  Status s = owner.loop.call([&](Engine& engine) {
    Status closed = engine.close(id, abort);
    if (closed.is_ok()) owner.hub.wake_data(engine, id);  // its Reads and Writes end now
    return closed;
  });
  if (s.is_ok() && shards.is_group(id)) {
    on_replicas(shards, id, [&](Engine& engine) { return engine.close(id, abort); });
  }
  if (s.is_ok()) shards.forget(id);
  return s;
}

Shard& connect_shard(Shards& shards, EndpointId id, const IpAddress& remote, uint16_t port) {
  Shard& owner = shards.of(id);
  if (!shards.is_group(id)) return owner;
  if (!remote.is_v4()) return shards[0];  // tcp::Tcp::steering_queue_of: IPv6 is queue 0's
  auto local = owner.loop.call([&](Engine& engine) -> std::optional<tcp::FourTuple> {
    auto info = engine.query(id);
    if (!info.is_ok() || info->state != TcpState::kBound) return std::nullopt;  // it will refuse
    return tcp::FourTuple{engine.config().address.address, remote, info->local_port, port};
  });
  if (!local) return owner;
  const EngineConfig& config = owner.loop.config();
  size_t target = tcp::steering_queue(tcp::steering_hash(*local, config.steering_key),
                                      static_cast<uint32_t>(shards.size()));
  return shards[target];
}

void connect_started(Shards& shards, EndpointId id, Shard& from) {
  if (!shards.is_group(id)) return;
  shards.move(id, from.index);  // first: the replicas' release is then not the endpoint's
  for (Shard& s : shards) {
    if (&s != &from) s.loop.post([id](Engine& engine) { engine.close(id, true); });
  }
}

}  // namespace tapstack::server
