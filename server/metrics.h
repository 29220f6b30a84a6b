// The Prometheus exporter. The collector builds every family at scrape time from the engine's
// own counters (stack/stats.h, walked through its X-macros, so a new counter is exported
// without touching this file), the counters kept outside the engine (link_counters.h), the
// handshake histogram, one snapshot of the listeners' queues taken on the engine loop with a
// timeout, and the kernel cookie path's counters per listening port (cookie_path_listeners.h).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <string>
#include <vector>

#include "server/capture_limits.h"
#include "server/handshake_histogram.h"
#include "server/shards.h"
#include "stack/link/cookie_path_program.h"
#include "stack/status.h"

namespace tapstack::server {

class MetricsCollector final : public prometheus::Collectable {
 public:
  MetricsCollector(Shards& shards, const link::CookiePathProgram* cookie_path,
                   const CaptureLimits& captures)
      : shards_(shards), cookie_path_(cookie_path), captures_(captures) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Shards& shards_;
  const link::CookiePathProgram* cookie_path_;  // null: not attached
  const CaptureLimits& captures_;
};

class MetricsExporter {
 public:
  // Serves /metrics on `listen` (HOST:PORT); the address was checked beforehand.
  static Result<std::unique_ptr<MetricsExporter>> start(const std::string& listen, Shards& shards,
                                                        const link::CookiePathProgram* cookie_path,
                                                        const CaptureLimits& captures);

 private:
  MetricsExporter(std::unique_ptr<prometheus::Exposer> exposer,
                  std::shared_ptr<MetricsCollector> collector)
      : exposer_(std::move(exposer)), collector_(std::move(collector)) {}

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<MetricsCollector> collector_;
};

}  // namespace tapstack::server
