// The Prometheus exporter. The collector builds every family at scrape time from the engine's
// own counters (stack/stats.h, walked through its X-macros, so a new counter is exported
// without touching this file), the handshake histogram, and one snapshot of the listeners'
// queues taken on the engine loop with a timeout.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <string>
#include <vector>

#include "server/handshake_histogram.h"
#include "stack/engine_loop.h"
#include "stack/status.h"

namespace tapstack::server {

class MetricsCollector final : public prometheus::Collectable {
 public:
  MetricsCollector(EngineLoop& loop, const HandshakeHistogram& histogram)
      : loop_(loop), histogram_(histogram) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  EngineLoop& loop_;
  const HandshakeHistogram& histogram_;
};

class MetricsExporter {
 public:
  // Serves /metrics on `listen` (HOST:PORT); the address was checked beforehand.
  static Result<std::unique_ptr<MetricsExporter>> start(const std::string& listen, EngineLoop& loop,
                                                        const HandshakeHistogram& histogram);

 private:
  MetricsExporter(std::unique_ptr<prometheus::Exposer> exposer,
                  std::shared_ptr<MetricsCollector> collector)
      : exposer_(std::move(exposer)), collector_(std::move(collector)) {}

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<MetricsCollector> collector_;
};

}  // namespace tapstack::server
