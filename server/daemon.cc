#include "server/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/server_builder.h>
#include <net/if.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <future>
#include <thread>

#include "server/cpu_quota.h"
#include "server/listen_check.h"
#include "server/log.h"
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

// What one connection may cost: requests are small (64 KiB is generous), and a client that
// stops answering keepalive pings, or holds a connection without calls, is disconnected (its
// calls end, so their slots and memory are given back).
void set_channel_limits(grpc::ServerBuilder& builder, const DaemonOptions& o) {
  builder.SetMaxReceiveMessageSize(64 * 1024);
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
      health_({v1::Endpoints::service_full_name(), v1::Stack::service_full_name()}, limiter_) {}

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
  auto tap = link::TapDevice::open(options_.tap);
  if (!tap.is_ok())
    return error(tap.status().code, "--tap " + options_.tap + ": " + tap.status().message);
  if (options_.tap_queue_length > 0) {
    // A TAP made beforehand can be opened without CAP_NET_ADMIN, which this needs: then the
    // queue stays as it was made, and the operator is told.
    if (Status s = tap.value().set_queue_length(options_.tap_queue_length); !s.is_ok()) {
      log_warning("--tap-queue-length not applied, the TAP keeps its queue: " + s.message);
    }
  }

  std::string cookie_path_state = options_.kernel_cookies ? start_cookie_path(tap.value()) : "off";
  std::string busy_poll_state = choose_busy_poll();
  try {
    loop_ = std::make_unique<EngineLoop>(options_.engine_config(), std::move(tap.value()),
                                         tcp::KeySource::system(), options_.link);
  } catch (const std::exception& e) {
    return error(ErrorCode::kUnavailable, std::string("cannot start the engine loop: ") + e.what());
  }
  log_ = std::make_unique<EventLog>(options_.grpc_watch_buffer);
  hub_ = std::make_unique<EventHub>(*loop_, histogram_, *log_);
  hub_->attach();
  loop_->start();
  // Before any listener exists: the program answers nothing until the engine has filled in its
  // configuration, and from then on the engine publishes each listener's mode as it changes.
  if (cookie_path_) {
    loop_->call(
        [memory = cookie_path_->memory()](Engine& engine) { engine.attach_cookie_path(memory); });
  }
  backend_ =
      std::make_unique<Backend>(*loop_, *hub_, *log_, limiter_, options_, cookie_path_.get());

  if (Status s = start_grpc(); !s.is_ok()) return s;
  if (metrics_enabled(options_)) {
    auto metrics =
        MetricsExporter::start(options_.metrics_listen, *loop_, histogram_, cookie_path_.get());
    if (!metrics.is_ok()) return metrics.status();
    metrics_ = std::move(metrics.value());
  }
  if (Status s = start_demo_listener(); !s.is_ok()) return s;

  // The loop has answered a call by now (the demo listener's, or this one): the TAP is up.
  loop_->call([](Engine&) {});
  health_.set_serving(true);
  start_watchdog();
  const EngineConfig& config = loop_->config();
  log_info("serving: TAP " + options_.tap + (created_tap_ ? " (created)" : "") + " over " +
           std::string(loop_->io_name()) + ", " + config.address.to_string() + ", MAC " +
           config.mac.to_string() + "; gRPC " + options_.grpc_listen +
           (options_.grpc_tls_cert.empty() ? "" : " (TLS)") + "; metrics " +
           options_.metrics_listen + "; syncookies " +
           std::string(to_string(config.tunable.syncookies)) + "; kernel cookie path " +
           cookie_path_state + "; busy polling " + busy_poll_state);
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
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  set_channel_limits(builder, options_);
  int port = 0;
  builder.AddListeningPort(options_.grpc_listen, *credentials, &port);
  builder.RegisterService(endpoints_.get());
  builder.RegisterService(stack_.get());
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
  // Takes every connection and closes it gracefully, without anyone reading the stream.
  auto acceptor = std::make_shared<AcceptStream>(AfterAccept::kClose, 0, 0, false);
  Status s = loop_->call([&](Engine& engine) -> Status {
    auto id = engine.create_endpoint();
    if (!id.is_ok()) return id.status();
    if (Status b = engine.bind(*id, Ipv4Address{}, port); !b.is_ok()) return b;
    if (Status l = engine.listen(*id, options_.backlog); !l.is_ok()) return l;
    hub_->add_accept_stream(engine, *id, acceptor);
    return Status::ok();
  });
  if (!s.is_ok())
    return error(s.code, "--demo-listener " + std::to_string(port) + ": " + s.message);
  return Status::ok();
}

void Daemon::close_everything() {
  auto fins = std::make_shared<std::promise<void>>();
  auto acked = fins->get_future();
  loop_->call([&](Engine& engine) {
    hub_->shutdown({grpc::StatusCode::UNAVAILABLE, "tapstackd is shutting down"});
    // Listeners first, so that nothing new arrives while the connections close.
    for (const EndpointInfo& e : engine.list()) {
      if (e.listener) engine.close(e.id, false);
    }
    for (const EndpointInfo& e : engine.list()) engine.close(e.id, false);
    hub_->when_fins_acked([fins] { fins->set_value(); });
  });
  if (acked.wait_for(options_.shutdown_grace) != std::future_status::ready) {
    log_warning("some peers did not acknowledge our FIN within --shutdown-grace; exiting anyway");
  }
  loop_->call([&](Engine&) { hub_->close_watchers(); });
}

void Daemon::start_watchdog() {
  Duration timeout = options_.loop_stall_timeout;
  watchdog_ = std::make_unique<LoopWatchdog>(
      [this](std::function<void()> beat) { loop_->post([beat](Engine&) { beat(); }); },
      [this, timeout](bool alive) {
        if (alive) {
          log_warning("the engine loop is turning again: health SERVING");
        } else {
          log_error("the engine loop has not run a command for " +
                    std::to_string(timeout.count() / 1'000'000) +
                    " ms (--loop-stall-timeout): health NOT_SERVING");
        }
        health_.set_loop_alive(alive);
      },
      std::min<Duration>(seconds(1), timeout / 4), timeout);
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
  if (loop_) loop_->stop();  // before the hub it calls into goes away
  hub_.reset();
  log_.reset();   // after the server: no watcher reads it any more
  loop_.reset();  // closes the TAP: one the daemon created disappears with it
  // After the engine, which writes into its maps until it goes; detaches the program from a
  // TAP that outlives us.
  cookie_path_.reset();
}

}  // namespace tapstack::server
