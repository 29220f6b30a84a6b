#include "server/stack_service.h"

#include "server/address_list.h"
#include "server/cookie_path_listeners.h"
#include "server/engine_snapshot.h"
#include "server/link_counters.h"
#include "server/proto_convert.h"
#include "server/tunables.h"

namespace tapstack::server {
namespace {

constexpr Duration kSnapshotTimeout = seconds(2);

// Checks the tunables set in `t`; an error message or nothing.
std::optional<std::string> validate(const v1::Tunables& t) {
  if (t.syncookies() != v1::SYN_COOKIE_MODE_UNSPECIFIED && !from_proto(t.syncookies())) {
    return "syncookies must be NEVER, AUTO or ALWAYS";
  }
  if (t.has_syn_retries()) {
    if (auto e =
            check_range("syn_retries", t.syn_retries().value(), kMinSynRetries, kMaxSynRetries))
      return e;
  }
  if (t.has_synack_retries()) {
    if (auto e = check_range("synack_retries", t.synack_retries().value(), 0, kMaxSynackRetries))
      return e;
  }
  return std::nullopt;
}

void apply(const v1::Tunables& t, TunableConfig& tunable) {
  if (auto mode = from_proto(t.syncookies())) tunable.syncookies = *mode;
  if (t.has_syn_retries()) tunable.syn_retries = static_cast<int>(t.syn_retries().value());
  if (t.has_synack_retries()) tunable.synack_retries = static_cast<int>(t.synack_retries().value());
  if (t.has_abort_on_overflow()) tunable.abort_on_overflow = t.abort_on_overflow().value();
}

}  // namespace

template <class Body>
grpc::ServerUnaryReactor* StackService::now(grpc::CallbackServerContext* ctx, Body body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  CallLimiter::Slot slot = backend_.admit(*ctx);
  reactor->Finish(slot.ok() ? body() : slot.status());
  return reactor;
}

grpc::ServerUnaryReactor* StackService::GetStats(grpc::CallbackServerContext* ctx,
                                                 const v1::GetStatsRequest*, v1::Stats* response) {
  return now(ctx, [&] { return stats(response); });
}

grpc::Status StackService::stats(v1::Stats* response) {
  Stats stats;
  backend_.shards.add_stats(stats);
  auto add_counter = [&](std::string_view name, std::string_view help, uint64_t value) {
    v1::Counter* c = response->add_counters();
    c->set_name(std::string(name));
    c->set_help(std::string(help));
    c->set_value(value);
  };
  stats.for_each_counter(add_counter);
  for (const LinkCounter& c : link_counters(backend_.shards, backend_.cookie_path)) {
    add_counter(c.name, c.help, c.value);
  }
  for (size_t i = 0; i < kDropReasons.size(); ++i) {
    v1::Counter* c = response->add_drops();
    c->set_name(std::string(kDropReasons[i].name));
    c->set_help(std::string(kDropReasons[i].help));
    c->set_value(stats.drops[i].get());
  }
  auto snapshot = take_snapshot(backend_.shards, kSnapshotTimeout);
  if (!snapshot) return {grpc::StatusCode::UNAVAILABLE, "the engine loop did not answer in time"};
  for (size_t i = 0; i < snapshot->endpoints_by_state.size(); ++i) {
    v1::StateCount* s = response->add_endpoints();
    s->set_state(to_proto(static_cast<TcpState>(i)));
    s->set_count(snapshot->endpoints_by_state[i]);
  }
  response->set_kernel_cookie_path_attached(backend_.cookie_path != nullptr);
  if (backend_.cookie_path) {
    for (const CookiePathListener& l :
         cookie_path_listeners(backend_.cookie_path->memory(), *snapshot)) {
      v1::KernelCookieListener* k = response->add_kernel_cookie_listeners();
      k->set_port(l.port);
      k->set_cookie_mode(l.cookie_mode);
      k->set_synacks(l.synacks);
      k->set_acks_passed(l.acks_passed);
      k->set_acks_refused(l.acks_refused);
      k->set_syns_dropped(l.syns_dropped);
    }
  }
  return grpc::Status::OK;
}

void StackService::fill_config(const TunableConfig& tunable, v1::Config* out) const {
  const DaemonOptions& o = backend_.options;
  const EngineConfig& engine = backend_.shards[0].loop.config();  // immutable after start
  out->set_tap(backend_.shards[0].loop.tap_name());
  out->set_address(engine.address.to_string());
  out->set_mac(engine.mac.to_string());
  out->set_gateway(engine.gateway ? engine.gateway->to_string() : "");
  for (const std::string& address : address_list(engine)) out->add_addresses(address);
  out->set_ipv6_gateway(engine.ipv6_gateway ? engine.ipv6_gateway->to_string() : "");
  out->set_mtu(engine.mtu);
  out->set_max_endpoints(engine.max_endpoints);
  out->set_max_time_wait(engine.max_time_wait);
  out->set_max_half_open(engine.max_half_open);
  out->set_default_backlog(o.backlog);
  v1::Tunables* t = out->mutable_tunables();
  t->set_syncookies(to_proto(tunable.syncookies));
  t->mutable_syn_retries()->set_value(static_cast<uint32_t>(tunable.syn_retries));
  t->mutable_synack_retries()->set_value(static_cast<uint32_t>(tunable.synack_retries));
  t->mutable_abort_on_overflow()->set_value(tunable.abort_on_overflow);
}

grpc::ServerUnaryReactor* StackService::GetConfig(grpc::CallbackServerContext* ctx,
                                                  const v1::GetConfigRequest*,
                                                  v1::Config* response) {
  return now(ctx, [&] {
    TunableConfig tunable =
        backend_.shards[0].loop.call([](Engine& engine) { return engine.tunable(); });
    fill_config(tunable, response);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* StackService::UpdateConfig(grpc::CallbackServerContext* ctx,
                                                     const v1::UpdateConfigRequest* request,
                                                     v1::Config* response) {
  return now(ctx, [&] {
    if (auto e = validate(request->tunables()))
      return grpc::Status{grpc::StatusCode::INVALID_ARGUMENT, *e};
    // One update at a time, read and applied in the first loop's turn (as with one loop), then
    // the same values in every other: concurrent updates of different fields both stay.
    std::lock_guard lock(update_mutex_);
    TunableConfig tunable = backend_.shards[0].loop.call([&](Engine& engine) {
      TunableConfig t = engine.tunable();
      apply(request->tunables(), t);
      engine.update_tunable(t);
      return t;
    });
    for (Shard& shard : backend_.shards) {
      if (shard.index != 0)
        shard.loop.call([&](Engine& engine) { engine.update_tunable(tunable); });
    }
    fill_config(tunable, response);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* StackService::RotateSynCookieSecret(
    grpc::CallbackServerContext* ctx, const v1::RotateSynCookieSecretRequest*,
    v1::RotateSynCookieSecretResponse*) {
  return now(ctx, [&] {
    for (Shard& shard : backend_.shards) {
      shard.loop.call([](Engine& engine) { engine.rotate_cookie_secret(); });
    }
    return grpc::Status::OK;
  });
}

}  // namespace tapstack::server
