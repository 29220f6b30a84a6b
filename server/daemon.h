// tapstackd's lifecycle: brings up the TAP, the engine loop, the gRPC server and the exporter
// in an order where each startup error is one clear message, and takes them down again on
// SIGTERM/SIGINT without leaving anything behind.
#pragma once

#include <grpcpp/server.h>

#include <memory>

#include "server/backend.h"
#include "server/call_limiter.h"
#include "server/capture_limits.h"
#include "server/capture_service.h"
#include "server/demo_listener.h"
#include "server/endpoints_service.h"
#include "server/event_hub.h"
#include "server/event_log.h"
#include "server/flags.h"
#include "server/handshake_histogram.h"
#include "server/health_service.h"
#include "server/loop_watchdog.h"
#include "server/metrics.h"
#include "server/stack_service.h"
#include "stack/engine_loop.h"
#include "stack/link/cookie_path_program.h"
#include "stack/link/queue_steering_program.h"

namespace tapstack::server {

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Health is SERVING once this returns OK. On error, whatever was started is stopped again.
  Status start();
  // Health NOT_SERVING, waits and streams end, listeners close (their queued connections are
  // reset), connections close gracefully (FINs acknowledged or --shutdown-grace passes), then
  // the server, exporter and loop stop, and the TAP (if the daemon created it) and the unix
  // socket (if any) go away. False, at once and with an error logged, if the engine loop is
  // wedged: nothing can be closed gracefully then, and the caller should exit without waiting.
  bool shutdown();

 private:
  // Resolves --busy-poll-us auto; what the startup line says about it.
  std::string choose_busy_poll();
  // Loads the kernel cookie path and attaches it to the TAP: "on", or "unavailable" after one
  // warning saying why (the engine then answers every SYN itself).
  std::string start_cookie_path(const link::TapDevice& tap);
  // --queues > 1: loads and attaches the steering program, or says why it cannot.
  Status start_steering(const link::TapDevice& tap, const tcp::SipKey& key);
  // --queues > 1: the first loop, which receives ARP, passes copies to the others.
  void share_arp();
  // The watchdog's heartbeat through loop q and those after it.
  void relay_beat(size_t q, std::function<void()> beat);
  Status start_grpc();
  Status start_demo_listener();
  void start_watchdog();
  void close_everything();
  void stop();

  DaemonOptions options_;
  CallLimiter limiter_;
  CaptureLimits capture_limits_;
  HealthService health_;
  // Null when --kernel-cookies is off or the path is unavailable here. Outlives the engine, which
  // writes into its maps until it is destroyed.
  std::unique_ptr<link::CookiePathProgram> cookie_path_;
  // With --queues N > 1: the TAP's steering program (stack/link/queue_steering_program.h).
  std::unique_ptr<link::QueueSteeringProgram> steering_;
  // One engine loop per TAP queue, each with its histogram and hub (server/shards.h).
  std::vector<std::unique_ptr<EngineLoop>> loops_;
  std::vector<std::unique_ptr<HandshakeHistogram>> histograms_;
  std::unique_ptr<EventLog> log_;
  std::vector<std::unique_ptr<EventHub>> hubs_;
  std::unique_ptr<Shards> shards_;
  std::unique_ptr<LoopWatchdog> watchdog_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<EndpointsService> endpoints_;
  std::unique_ptr<StackService> stack_;
  std::unique_ptr<CaptureService> capture_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsExporter> metrics_;
  std::shared_ptr<DemoListener> demo_;  // --demo-mode echo or discard
  bool created_tap_ = false;
};

}  // namespace tapstack::server
