#include "server/metrics.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "server/cookie_path_listeners.h"
#include "server/engine_snapshot.h"
#include "server/link_counters.h"
#include "server/log.h"

namespace tapstack::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Scrapes come every few seconds; a loop that cannot answer in this time is stuck, and the
// scrape then goes without the per-listener gauges rather than hanging.
constexpr Duration kSnapshotTimeout = milliseconds(500);

// Counters exported as one labelled family instead of a family of their own.
struct Folded {
  std::string_view counter;
  std::string_view family;
  std::string_view label;
  std::string_view value;
  std::string_view help;  // of the family
};
constexpr std::string_view kRetransmitsHelp =
    "SYN retransmissions by connect (kind=syn) and SYN-ACK retransmissions by listeners "
    "(kind=synack)";
constexpr Folded kFolded[] = {
    {"syn_retransmits", "syn_retransmits", "kind", "syn", kRetransmitsHelp},
    {"synack_retransmits", "syn_retransmits", "kind", "synack", kRetransmitsHelp},
};

std::string name(std::string_view base) {
  return "tapstack_" + std::string(base);
}

// The family named `base` in `out`, added if missing. The reference is valid only until the next
// family is added (the vector may move its elements): fill one family before asking for another.
MetricFamily& family(std::vector<MetricFamily>& out, std::string_view base, std::string_view help,
                     MetricType type) {
  std::string full = name(base);
  for (MetricFamily& f : out) {
    if (f.name == full) return f;
  }
  out.push_back({full, std::string(help), type, {}});
  return out.back();
}

ClientMetric sample(double value, MetricType type, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}

// tapstack_<counter>_total, a family of its own.
void add_counter(std::vector<MetricFamily>& out, std::string_view counter, std::string_view help,
                 uint64_t value) {
  family(out, std::string(counter) + "_total", help, MetricType::Counter)
      .metric.push_back(sample(static_cast<double>(value), MetricType::Counter));
}

void add_counters(const Stats& stats, std::vector<MetricFamily>& out) {
  stats.for_each_counter([&](std::string_view counter, std::string_view help, uint64_t value) {
    auto folded = std::find_if(std::begin(kFolded), std::end(kFolded),
                               [&](const Folded& f) { return f.counter == counter; });
    if (folded != std::end(kFolded)) {
      family(out, std::string(folded->family) + "_total", folded->help, MetricType::Counter)
          .metric.push_back(sample(static_cast<double>(value), MetricType::Counter,
                                   {{std::string(folded->label), std::string(folded->value)}}));
      return;
    }
    add_counter(out, counter, help, value);
  });
  MetricFamily& drops = family(out, "dropped_packets_total",
                               "Frames and segments dropped, by reason", MetricType::Counter);
  for (size_t i = 0; i < kDropReasons.size(); ++i) {
    drops.metric.push_back(sample(static_cast<double>(stats.drops[i].get()), MetricType::Counter,
                                  {{"reason", std::string(kDropReasons[i].name)}}));
  }
}

void add_histogram(const HandshakeHistogram::Snapshot& s, std::vector<MetricFamily>& out) {
  ClientMetric m;
  m.histogram.sample_count = s.count;
  m.histogram.sample_sum = s.sum_seconds;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < s.buckets.size(); ++i) {
    cumulative += s.buckets[i];
    double bound = i < HandshakeHistogram::kBounds.size() ? HandshakeHistogram::kBounds[i]
                                                          : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back({cumulative, bound});
  }
  family(out, "handshake_duration_seconds",
         "From the first SYN to ESTABLISHED, active and passive opens (SYN-cookie connections, "
         "which keep no start time, are not included)",
         MetricType::Histogram)
      .metric.push_back(std::move(m));
}

std::string lower(std::string_view text) {
  std::string s(text);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void add_snapshot(const EngineSnapshot& snapshot, std::vector<MetricFamily>& out) {
  auto labels = [](const ListenerSnapshot& l, const char* queue) {
    return std::vector<ClientMetric::Label>{{"listener", l.local}, {"queue", queue}};
  };
  MetricFamily& depth = family(out, "listen_backlog_depth",
                               "Connections in a listener's queue now: queue=syn is the SYN-RCVD "
                               "table, queue=accept the accept queue",
                               MetricType::Gauge);
  for (const ListenerSnapshot& l : snapshot.listeners) {
    depth.metric.push_back(sample(l.queues.syn_received, MetricType::Gauge, labels(l, "syn")));
    depth.metric.push_back(sample(l.queues.accept_queue, MetricType::Gauge, labels(l, "accept")));
  }
  MetricFamily& limit = family(out, "listen_backlog_limit",
                               "Size of a listener's queues (queue=syn: syn_backlog, "
                               "queue=accept: backlog)",
                               MetricType::Gauge);
  for (const ListenerSnapshot& l : snapshot.listeners) {
    limit.metric.push_back(sample(l.queues.syn_backlog, MetricType::Gauge, labels(l, "syn")));
    limit.metric.push_back(sample(l.queues.backlog, MetricType::Gauge, labels(l, "accept")));
  }
  MetricFamily& endpoints = family(out, "endpoints",
                                   "Endpoints by TCP state, closed connections still finishing "
                                   "(FIN exchange) and TIME-WAIT records included",
                                   MetricType::Gauge);
  for (size_t i = 0; i < snapshot.endpoints_by_state.size(); ++i) {
    endpoints.metric.push_back(sample(static_cast<double>(snapshot.endpoints_by_state[i]),
                                      MetricType::Gauge,
                                      {{"state", lower(to_string(static_cast<TcpState>(i)))}}));
  }
  MetricFamily& connections =
      family(out, "connections",
             "Connections (endpoints with a peer, until closed) by the peer's address family; an "
             "IPv4 peer of a dual-stack listener counts as ipv4",
             MetricType::Gauge);
  for (IpFamily f : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    connections.metric.push_back(
        sample(static_cast<double>(snapshot.connections_by_family[static_cast<size_t>(f)]),
               MetricType::Gauge, {{"family", f == IpFamily::kIpv4 ? "ipv4" : "ipv6"}}));
  }
}

// Per listener, what its admission policy did: SYNs admitted, refused by reason (every reason,
// so that a rate over them starts from 0), and its per-source table. Every listener has them,
// with or without a policy, so that series do not come and go with policy changes.
void add_admission(const EngineSnapshot& snapshot, std::vector<MetricFamily>& out) {
  auto listener = [](const ListenerSnapshot& l) {
    return std::vector<ClientMetric::Label>{{"listener", l.local}};
  };
  // A family with one sample per listener, of `value` of its admission counters.
  auto per_listener = [&](std::string_view name, std::string_view help, MetricType type,
                          auto value) {
    MetricFamily& f = family(out, name, help, type);
    for (const ListenerSnapshot& l : snapshot.listeners) {
      f.metric.push_back(
          sample(static_cast<double>(value(l.queues.admission_counters)), type, listener(l)));
    }
  };
  per_listener("listener_syns_admitted_total",
               "SYNs a listener's admission policy let through (with no policy: none counted)",
               MetricType::Counter, [](const tcp::AdmissionCounters& c) { return c.admitted; });
  MetricFamily& refused =
      family(out, "listener_syns_refused_total",
             "SYNs (and SYN-cookie ACKs) a listener's admission policy refused, by reason "
             "(denied, not_allowed, rate_limited, half_open_cap, connection_cap)",
             MetricType::Counter);
  for (const ListenerSnapshot& l : snapshot.listeners) {
    for (size_t i = 0; i < tcp::kAdmissionReasonCount; ++i) {
      auto labels = listener(l);
      labels.push_back(
          {"reason", std::string(tcp::to_string(static_cast<tcp::AdmissionReason>(i)))});
      refused.metric.push_back(sample(static_cast<double>(l.queues.admission_counters.refused[i]),
                                      MetricType::Counter, std::move(labels)));
    }
  }
  per_listener("listener_admission_sources",
               "Source prefixes a listener's admission policy tracks now (its rate and caps): at "
               "most source_table_size idle ones per engine loop, plus those holding handshakes "
               "or connections",
               MetricType::Gauge, [](const tcp::AdmissionCounters& c) { return c.sources; });
  per_listener("listener_admission_sources_evicted_total",
               "Idle source prefixes a listener's admission table forgot to make room for new "
               "ones",
               MetricType::Counter,
               [](const tcp::AdmissionCounters& c) { return c.sources_evicted; });
}

// Whether the kernel cookie path is on, and per listening port its mode and counters.
void add_cookie_path(const link::CookiePathProgram* cookie_path, const EngineSnapshot* snapshot,
                     std::vector<MetricFamily>& out) {
  family(out, "kernel_cookie_path_attached",
         "1 when the kernel cookie path is attached to the TAP's egress (--kernel-cookies on and "
         "allowed here), else 0",
         MetricType::Gauge)
      .metric.push_back(sample(cookie_path ? 1 : 0, MetricType::Gauge));
  if (!cookie_path || !snapshot) return;
  std::vector<CookiePathListener> listeners =
      cookie_path_listeners(cookie_path->memory(), *snapshot);
  auto port = [](const CookiePathListener& l) {
    return std::vector<ClientMetric::Label>{{"port", std::to_string(l.port)}};
  };
  MetricFamily& mode = family(out, "listener_cookie_mode",
                              "1 while a listening port answers every SYN with a cookie in the "
                              "kernel cookie path (cookie mode), else 0",
                              MetricType::Gauge);
  for (const CookiePathListener& l : listeners) {
    mode.metric.push_back(sample(l.cookie_mode ? 1 : 0, MetricType::Gauge, port(l)));
  }
  for (const CookiePathListenerCounter& c : kCookiePathListenerCounters) {
    MetricFamily& f =
        family(out, "kernel_cookie_" + std::string(c.name) + "_total", c.help, MetricType::Counter);
    for (const CookiePathListener& l : listeners) {
      f.metric.push_back(sample(static_cast<double>(l.*c.value), MetricType::Counter, port(l)));
    }
  }
}

// Per engine loop (--queues): how the TAP's queues share the traffic.
void add_loops(Shards& shards, std::vector<MetricFamily>& out) {
  auto queue = [](const Shard& shard) {
    return std::vector<ClientMetric::Label>{{"queue", std::to_string(shard.index)}};
  };
  MetricFamily& in = family(out, "loop_frames_received_total",
                            "Ethernet frames an engine loop read from its TAP queue, by queue",
                            MetricType::Counter);
  for (Shard& shard : shards) {
    in.metric.push_back(sample(static_cast<double>(shard.loop.stats().frames_received.get()),
                               MetricType::Counter, queue(shard)));
  }
  MetricFamily& sent =
      family(out, "loop_frames_sent_total", "Ethernet frames an engine loop wrote, by queue",
             MetricType::Counter);
  for (Shard& shard : shards) {
    sent.metric.push_back(sample(static_cast<double>(shard.loop.stats().frames_sent.get()),
                                 MetricType::Counter, queue(shard)));
  }
}

// Packet captures (the Capture call): running now, and what their readers took and lost.
void add_captures(const CaptureLimits& captures, std::vector<MetricFamily>& out) {
  family(out, "captures_running", "Packet captures (Capture calls) running now", MetricType::Gauge)
      .metric.push_back(sample(static_cast<double>(captures.running()), MetricType::Gauge));
  add_counter(out, "capture_frames",
              "Frames captured and sent to Capture callers, all captures together",
              captures.frames());
  add_counter(out, "capture_frames_lost",
              "Frames a capture dropped because its reader was behind and its ring full",
              captures.lost());
}

}  // namespace

std::vector<MetricFamily> MetricsCollector::Collect() const {
  std::vector<MetricFamily> out;
  Stats stats;
  shards_.add_stats(stats);
  add_counters(stats, out);
  for (const LinkCounter& c : link_counters(shards_, cookie_path_)) {
    add_counter(out, c.name, c.help, c.value);
  }
  add_loops(shards_, out);
  add_captures(captures_, out);
  add_histogram(shards_.histogram(), out);
  auto snapshot = take_snapshot(shards_, kSnapshotTimeout);
  if (snapshot) {
    add_snapshot(*snapshot, out);
    add_admission(*snapshot, out);
  } else {
    log_warning("metrics: the engine loop did not answer; scrape without listener gauges");
  }
  add_cookie_path(cookie_path_, snapshot ? &*snapshot : nullptr, out);
  return out;
}

Result<std::unique_ptr<MetricsExporter>> MetricsExporter::start(
    const std::string& listen, Shards& shards, const link::CookiePathProgram* cookie_path,
    const CaptureLimits& captures) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& e) {
    return error(ErrorCode::kUnavailable, "cannot serve metrics on " + listen + ": " + e.what());
  }
  auto collector = std::make_shared<MetricsCollector>(shards, cookie_path, captures);
  exposer->RegisterCollectable(collector);
  return std::unique_ptr<MetricsExporter>(
      new MetricsExporter(std::move(exposer), std::move(collector)));
}

}  // namespace tapstack::server
