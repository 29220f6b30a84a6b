#include "server/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/server_builder.h>
#include <net/if.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <future>
#include <thread>

#include "server/address_list.h"
#include "server/cpu_quota.h"
#include "server/data_io.h"
#include "server/listen_check.h"
#include "server/log.h"
#include "server/shard_commands.h"
#include "server/tls.h"
#include "server/tunables.h"

namespace tapstack::server {
namespace {

// Waits and streams have ended by the time the server stops, so calls still running finish at
// once; the deadline mostly bounds how long gRPC waits for idle client connections to close.
constexpr auto kServerShutdownDeadline = std::chrono::milliseconds(300);

bool metrics_enabled(const DaemonOptions& o) {
  return o.metrics_listen != "off";
}

// The loader's reason may carry libbpf's own lines; the daemon logs one line per event.
std::string one_line(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  for (size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at)) {
    text.replace(at, 1, "; ");
  }
  return text;
}

int to_ms(Duration d) {
  return static_cast<int>(std::chrono::duration_cast<milliseconds>(d).count());
}

// What one connection may cost: a request is at most a data message (kMaxDataMessage, and room
// for its other fields), and a client that
// stops answering keepalive pings, or holds a connection without calls, is disconnected (its
// calls end, so their slots and memory are given back).
void set_channel_limits(grpc::ServerBuilder& builder, const DaemonOptions& o) {
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxDataMessage + 1024));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, to_ms(o.grpc_keepalive));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, to_ms(o.grpc_keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // idle streams too
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, to_ms(o.grpc_max_connection_idle));
  // Clients may ping (keepalive) every 10 s without being told to go away.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
}

}  // namespace

Daemon::Daemon(DaemonOptions options)
    : options_(std::move(options)),
      limiter_(options_.grpc_max_calls_per_client, options_.grpc_max_calls),
      capture_limits_(options_.max_captures, options_.capture_memory),
      health_({v1::Endpoints::service_full_name(), v1::Stack::service_full_name(),
               v1::Capture::service_full_name()},
              limiter_) {}

Daemon::~Daemon() {
  stop();
}

Status Daemon::start() {
  // Everything that can be checked without side effects first.
  if (Status s = check_listen_address("--grpc-listen", options_.grpc_listen, true); !s.is_ok()) {
    return s;
  }
  if (metrics_enabled(options_)) {
    if (Status s = check_listen_address("--metrics-listen", options_.metrics_listen, false);
        !s.is_ok()) {
      return s;
    }
  }
  created_tap_ = ::if_nametoindex(options_.tap.c_str()) == 0;
  auto taps = link::TapDevice::open_queues(
      options_.tap, options_.queues,
      options_.tap_offloads ? link::TapOffloads::kOn : link::TapOffloads::kOff);
  if (!taps.is_ok())
    return error(taps.status().code, "--tap " + options_.tap + ": " + taps.status().message);
  link::TapDevice& first = taps.value().front();
  if (options_.tap_queue_length > 0) {
    // A TAP made beforehand can be opened without CAP_NET_ADMIN, which this needs: then the
    // queue stays as it was made, and the operator is told.
    if (Status s = first.set_queue_length(options_.tap_queue_length); !s.is_ok()) {
      log_warning("--tap-queue-length not applied, the TAP keeps its queue: " + s.message);
    }
  }
  EngineConfig config = options_.engine_config();
  config.queues = options_.queues;
  config.steering_key = tcp::KeySource::system().next_key();
  if (options_.queues > 1) {
    if (Status s = start_steering(first, config.steering_key); !s.is_ok()) return s;
  }
  std::string cookie_path_state = "off";
  if (options_.kernel_cookies && options_.queues > 1) {
    log_warning("kernel cookie path off: it serves one engine loop, and --queues is " +
                std::to_string(options_.queues));
    cookie_path_state = "off (several queues)";
  } else if (options_.kernel_cookies) {
    cookie_path_state = start_cookie_path(first);
  }
  std::string busy_poll_state = choose_busy_poll();
  log_ = std::make_unique<EventLog>(options_.grpc_watch_buffer);
  std::vector<Shard> shards;
  // One ISN key and one SYN-cookie secret for the stack: with several loops, copies of one keyed
  // source.
  tcp::KeySource keys = options_.queues > 1
                            ? tcp::KeySource::keyed(tcp::KeySource::system().next_key())
                            : tcp::KeySource::system();
  try {
    for (uint32_t q = 0; q < options_.queues; ++q) {
      config.queue = q;
      loops_.push_back(
          std::make_unique<EngineLoop>(config, std::move(taps.value()[q]), keys, options_.link));
      histograms_.push_back(std::make_unique<HandshakeHistogram>());
      hubs_.push_back(std::make_unique<EventHub>(*loops_[q], *histograms_[q], *log_));
      shards.push_back({*loops_[q], *hubs_[q], *histograms_[q], q});
    }
  } catch (const std::exception& e) {
    return error(ErrorCode::kUnavailable, std::string("cannot start the engine loop: ") + e.what());
  }
  shards_ = std::make_unique<Shards>(std::move(shards));
  for (Shard& shard : *shards_) {
    if (options_.queues > 1) {
      shard.hub.set_publishes([this, &shard](EndpointId id) { return shards_->owns(shard, id); });
    }
    shard.hub.attach();
    shard.loop.start();
  }
  if (options_.queues > 1) share_arp();
  // Before any listener exists: the program answers nothing until the engine has filled in its
  // configuration, and from then on the engine publishes each listener's mode as it changes.
  if (cookie_path_) {
    loops_.front()->call(
        [memory = cookie_path_->memory()](Engine& engine) { engine.attach_cookie_path(memory); });
  }
  backend_ = std::make_unique<Backend>(*shards_, *log_, limiter_, options_, cookie_path_.get());

  if (Status s = start_grpc(); !s.is_ok()) return s;
  if (metrics_enabled(options_)) {
    auto metrics = MetricsExporter::start(options_.metrics_listen, *shards_, cookie_path_.get(),
                                          capture_limits_);
    if (!metrics.is_ok()) return metrics.status();
    metrics_ = std::move(metrics.value());
  }
  if (Status s = start_demo_listener(); !s.is_ok()) return s;

  // The loops have answered a call by now (the demo listener's, or these): the TAP is up.
  for (auto& loop : loops_) loop->call([](Engine&) {});
  health_.set_serving(true);
  start_watchdog();
  std::string addresses;
  for (const std::string& a : address_list(config)) addresses += (addresses.empty() ? "" : " ") + a;
  log_info(
      "serving: TAP " + options_.tap + (created_tap_ ? " (created)" : "") + " over " +
      std::string(loops_.front()->io_name()) +
      (options_.queues > 1 ? ", " + std::to_string(options_.queues) + " queues and loops" : "") +
      ", " + addresses + ", MAC " + config.mac.to_string() + "; gRPC " + options_.grpc_listen +
      (options_.grpc_tls_cert.empty() ? "" : " (TLS)") + "; metrics " + options_.metrics_listen +
      "; syncookies " + std::string(to_string(config.tunable.syncookies)) +
      "; kernel cookie path " + cookie_path_state + "; busy polling " + busy_poll_state +
      (options_.demo_listener ? "; demo listener " + IpAddress{}.to_string(*options_.demo_listener)
                              : ""));
  return Status::ok();
}

std::string Daemon::choose_busy_poll() {
  link::BusyPoll& poll = options_.link.busy_poll;
  auto us = [](Duration d) {
    return std::to_string(std::chrono::duration_cast<microseconds>(d).count()) + " us";
  };
  if (options_.busy_poll_auto) {
    if (auto quota = cpu_quota_cores()) {
      poll = {};
      char cores[32];
      std::snprintf(cores, sizeof cores, "%.2f", *quota);
      return std::string("off (auto: CPU quota of ") + cores + " cores)";
    }
    return "adaptive up to " + us(poll.window);
  }
  return poll.window > Duration::zero() ? us(poll.window) : "off";
}

Status Daemon::start_steering(const link::TapDevice& tap, const tcp::SipKey& key) {
  auto program = link::QueueSteeringProgram::load(key);
  Status s = program.is_ok() ? program.value()->attach(tap.fd()) : program.status();
  if (!s.is_ok()) {
    return error(s.code, "--queues " + std::to_string(options_.queues) +
                             ": cannot steer the TAP's queues: " + one_line(s.message));
  }
  steering_ = std::move(program.value());
  return Status::ok();
}

void Daemon::share_arp() {
  // The steering program sends ARP to queue 0; the other loops learn from copies of it.
  loops_.front()->call([this](Engine& engine) {
    engine.set_arp_observer([this](std::span<const uint8_t> frame) {
      for (size_t q = 1; q < loops_.size(); ++q) {
        loops_[q]->post([copy = std::vector<uint8_t>(frame.begin(), frame.end())](Engine& other) {
          other.receive_arp_copy(copy, monotonic_now());
        });
      }
    });
  });
}

std::string Daemon::start_cookie_path(const link::TapDevice& tap) {
  auto program = link::CookiePathProgram::load();
  Status s = program.is_ok()
                 ? program.value()->attach(static_cast<int>(::if_nametoindex(tap.name().c_str())))
                 : program.status();
  if (!s.is_ok()) {
    log_warning("kernel cookie path unavailable, SYN cookies answered in user space: " +
                one_line(s.message));
    return "unavailable";
  }
  cookie_path_ = std::move(program.value());
  return "on";
}

Status Daemon::start_grpc() {
  auto credentials = server_credentials(options_);
  if (!credentials.is_ok()) return credentials.status();
  endpoints_ = std::make_unique<EndpointsService>(*backend_);
  stack_ = std::make_unique<StackService>(*backend_);
  capture_ = std::make_unique<CaptureService>(*backend_, capture_limits_);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  set_channel_limits(builder, options_);
  int port = 0;
  builder.AddListeningPort(options_.grpc_listen, *credentials, &port);
  builder.RegisterService(endpoints_.get());
  builder.RegisterService(stack_.get());
  builder.RegisterService(capture_.get());
  builder.RegisterService(&health_);
  server_ = builder.BuildAndStart();
  if (!server_ || (port == 0 && !options_.grpc_listen.starts_with("unix:"))) {
    server_.reset();
    return error(ErrorCode::kUnavailable, "cannot start the gRPC server on " +
                                              options_.grpc_listen +
                                              " (--log-level=debug shows gRPC's reason)");
  }
  return Status::ok();
}

Status Daemon::start_demo_listener() {
  if (!options_.demo_listener) return Status::ok();
  uint16_t port = *options_.demo_listener;
  Answer created = create_endpoint(*shards_);
  Status s = created.status();
  EndpointId id = created.is_ok() ? created->info.id : 0;
  // "::": both families, as a dual-stack server socket takes them.
  if (s.is_ok()) s = bind_endpoint(*shards_, id, IpAddress{}, port).status();
  if (s.is_ok()) s = listen_endpoint(*shards_, id, options_.backlog, std::nullopt).status();
  if (!s.is_ok())
    return error(s.code, "--demo-listener " + std::to_string(port) + ": " + s.message);
  if (options_.demo_mode != DemoMode::kClose) {
    demo_ = DemoListener::start(*shards_, id, options_.demo_mode);
    return Status::ok();
  }
  // Takes every connection and closes it gracefully, without anyone reading the stream.
  auto acceptor = std::make_shared<AcceptStream>(AfterAccept::kClose, 0, 0, false);
  for (Shard& shard : *shards_) {
    shard.loop.call([&](Engine& engine) { shard.hub.add_accept_stream(engine, id, acceptor); });
  }
  return Status::ok();
}

void Daemon::close_everything() {
  std::vector<std::future<void>> acked;
  for (Shard& shard : *shards_) {
    auto fins = std::make_shared<std::promise<void>>();
    acked.push_back(fins->get_future());
    shard.loop.call([&](Engine& engine) {
      shard.hub.shutdown({grpc::StatusCode::UNAVAILABLE, "tapstackd is shutting down"});
      // Listeners first, so that nothing new arrives while the connections close.
      for (const EndpointInfo& e : engine.list()) {
        if (e.listener) engine.close(e.id, false);
      }
      for (const EndpointInfo& e : engine.list()) engine.close(e.id, false);
      shard.hub.when_fins_acked([fins] { fins->set_value(); });
    });
  }
  auto deadline = std::chrono::steady_clock::now() + options_.shutdown_grace;
  for (auto& a : acked) {
    if (a.wait_until(deadline) != std::future_status::ready) {
      log_warning("some peers did not acknowledge our FIN within --shutdown-grace; exiting anyway");
      break;
    }
  }
  // Watchers read one log: closing it from any loop ends them all.
  loops_.front()->call([&](Engine&) { hubs_.front()->close_watchers(); });
}

void Daemon::start_watchdog() {
  Duration timeout = options_.loop_stall_timeout;
  // One heartbeat passes through every loop in turn: it comes back only if each one turns.
  watchdog_ = std::make_unique<LoopWatchdog>(
      [this](std::function<void()> beat) { relay_beat(0, std::move(beat)); },
      [this, timeout](bool alive) {
        if (alive) {
          log_warning("the engine loops are turning again: health SERVING");
        } else {
          log_error("an engine loop has not run a command for " +
                    std::to_string(timeout.count() / 1'000'000) +
                    " ms (--loop-stall-timeout): health NOT_SERVING");
        }
        health_.set_loop_alive(alive);
      },
      std::min<Duration>(seconds(1), timeout / 4), timeout);
}

void Daemon::relay_beat(size_t q, std::function<void()> beat) {
  loops_[q]->post([this, q, beat = std::move(beat)](Engine&) {
    if (q + 1 == loops_.size()) {
      beat();
    } else {
      relay_beat(q + 1, beat);
    }
  });
}

bool Daemon::shutdown() {
  log_info("shutting down");
  health_.set_serving(false);
  if (watchdog_ && !watchdog_->alive()) {
    log_error("the engine loop is wedged: exiting without closing connections");
    return false;
  }
  if (backend_) {
    backend_->draining = true;
    close_everything();
  }
  stop();
  log_info("stopped");
  return true;
}

void Daemon::stop() {
  health_.shutdown();
  watchdog_.reset();
  // civetweb takes a second or two to stop its threads: let it do so while gRPC stops.
  std::thread metrics_stopper([this] { metrics_.reset(); });
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + kServerShutdownDeadline);
    server_.reset();
    // Only a socket this daemon served on: one it found in use belongs to someone else.
    if (options_.grpc_listen.starts_with("unix:")) ::unlink(options_.grpc_listen.substr(5).c_str());
  }
  metrics_stopper.join();
  for (auto& loop : loops_) loop->stop();  // before the hubs they call into go away
  backend_.reset();
  demo_.reset();
  shards_.reset();
  hubs_.clear();
  log_.reset();    // after the server: no watcher reads it any more
  loops_.clear();  // closes the TAP: one the daemon created disappears with it
  // After the engine, which writes into its maps until it goes; detaches the program from a
  // TAP that outlives us.
  cookie_path_.reset();
}

}  // namespace tapstack::server
