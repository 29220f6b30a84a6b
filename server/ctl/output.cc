#include "server/ctl/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <vector>

#include "server/ctl/args.h"

namespace tapstack::ctl {
namespace {

std::string strip_prefix(const std::string& name, std::string_view prefix) {
  return name.starts_with(prefix) ? name.substr(prefix.size()) : name;
}

std::string address(const v1::SocketAddress& a, bool present) {
  return present ? host_port_text(a.address(), a.port()) : "*:*";
}

std::string join(const google::protobuf::RepeatedPtrField<std::string>& items,
                 std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string yes_no(bool b) {
  return b ? "yes" : "no";
}

// Rows as left-aligned columns separated by two spaces, one line each.
std::vector<std::string> format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::vector<std::string> lines;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  for (const std::string& line : format_table(rows)) std::cout << line << "\n";
}

std::string as_milliseconds(const google::protobuf::Duration& d, int decimals) {
  double ms = static_cast<double>(d.seconds()) * 1e3 + d.nanos() / 1e6;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, ms);
  return buf;
}

std::string refusal_name(v1::AdmissionPolicy::Refusal r) {
  return r == v1::AdmissionPolicy::REFUSAL_SILENCE ? "silence" : "rst";
}

uint64_t refused_total(const v1::AdmissionCounters& counters) {
  uint64_t total = 0;
  for (const v1::AdmissionRefusals& r : counters.refused()) total += r.syns();
  return total;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

void print_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json << "\n";
}

std::string state_name(v1::TcpState state) {
  return strip_prefix(v1::TcpState_Name(state), "TCP_STATE_");
}

std::string connection_details(const v1::ConnectionStatus& c) {
  auto field = [](std::string_view name, auto value) {
    return " " + std::string(name) + ":" + std::to_string(value);
  };
  std::string line = c.congestion_control();
  line += " rtt:" + as_milliseconds(c.srtt(), 3) + "/" + as_milliseconds(c.rttvar(), 3);
  line += " rto:" + as_milliseconds(c.rto(), 0);
  line += field("mss", c.send_mss());
  line += field("cwnd", c.cwnd());
  line += " ssthresh:" + (c.has_ssthresh() ? std::to_string(c.ssthresh().value()) : "-");
  line += field("bytes_acked", c.bytes_acked());
  line += field("bytes_received", c.bytes_received());
  line +=
      " retrans:" + std::to_string(c.backoff()) + "/" + std::to_string(c.segments_retransmitted());
  line += field("unacked", c.bytes_in_flight());
  line += field("unsent", c.bytes_unsent());
  line += field("send_wnd", c.send_window());
  line += field("rcv_wnd", c.receive_window());
  if (c.out_of_order_bytes() > 0) line += field("ooo", c.out_of_order_bytes());
  if (c.in_recovery()) line += " recovery";
  return line;
}

// SetOptions' values, where they differ from the defaults: " nodelay user_timeout:MS".
std::string options_details(const v1::Endpoint& e) {
  std::string line;
  if (e.no_delay()) line += " nodelay";
  if (e.has_user_timeout()) line += " user_timeout:" + as_milliseconds(e.user_timeout(), 0);
  return line;
}

std::string code_name(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  auto i = static_cast<size_t>(code);
  return i < std::size(kNames) ? kNames[i] : "CODE_" + std::to_string(i);
}

void print_endpoint(const v1::Endpoint& e) {
  std::vector<std::vector<std::string>> rows = {
      {"id:", std::to_string(e.id())},
      {"state:", state_name(e.state())},
      {"local:", address(e.local(), true)},
  };
  if (e.v6_only()) rows.push_back({"v6 only:", "yes"});
  if (e.has_remote()) rows.push_back({"remote:", address(e.remote(), true)});
  if (e.has_listener()) {
    const v1::ListenerStatus& l = e.listener();
    rows.push_back({"accept queue:", std::to_string(l.accept_queue_depth()) + "/" +
                                         std::to_string(l.accept_queue_limit())});
    rows.push_back({"syn queue:", std::to_string(l.syn_queue_depth()) + "/" +
                                      std::to_string(l.syn_queue_limit())});
    const v1::AdmissionCounters& a = l.admission().counters();
    rows.push_back({"admission:", std::string(l.admission().has_policy() ? "policy" : "no policy") +
                                      ", " + std::to_string(a.admitted()) + " SYNs admitted, " +
                                      std::to_string(refused_total(a)) +
                                      " refused (policy show ID)"});
  }
  if (e.has_connection()) {
    const v1::ConnectionStatus& c = e.connection();
    if (c.listener_id() != 0) rows.push_back({"listener:", std::to_string(c.listener_id())});
    rows.push_back({"mss:", std::to_string(c.mss())});
    auto ws = [](bool has, const google::protobuf::UInt32Value& v) {
      return has ? std::to_string(v.value()) : std::string("-");
    };
    rows.push_back({"window scale:",
                    "send " + ws(c.has_send_window_scale(), c.send_window_scale()) + ", receive " +
                        ws(c.has_receive_window_scale(), c.receive_window_scale())});
    rows.push_back({"sack:", yes_no(c.sack_permitted())});
    rows.push_back({"timestamps:", yes_no(c.timestamps())});
    rows.push_back({"syn cookie:", yes_no(c.from_syn_cookie())});
    rows.push_back({"received:", std::to_string(c.bytes_received()) + " bytes (" +
                                     std::to_string(c.bytes_buffered()) + " unread)"});
    rows.push_back({"tcp info:", connection_details(c)});
  }
  if (e.has_keepalive()) {
    const v1::Keepalive& k = e.keepalive();
    rows.push_back({"keepalive:", "idle " + std::to_string(k.idle().seconds()) + " s, every " +
                                      std::to_string(k.interval().seconds()) + " s, " +
                                      std::to_string(k.count()) + " probes"});
  }
  rows.push_back({"no delay:", yes_no(e.no_delay())});
  rows.push_back({"user timeout:",
                  e.has_user_timeout() ? as_milliseconds(e.user_timeout(), 0) + " ms" : "off"});
  print_table(rows);
}

void print_endpoint_table(const v1::ListEndpointsResponse& list, bool details) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Syn-Q"}};
  for (const v1::Endpoint& e : list.endpoints()) {
    std::string recv_q = "0", send_q = "0", syn_q;
    if (e.has_listener()) {
      recv_q = std::to_string(e.listener().accept_queue_depth());
      send_q = std::to_string(e.listener().accept_queue_limit());
      syn_q = std::to_string(e.listener().syn_queue_depth()) + "/" +
              std::to_string(e.listener().syn_queue_limit());
    } else if (e.has_connection()) {
      recv_q = std::to_string(e.connection().bytes_buffered());
      send_q = std::to_string(e.connection().bytes_in_flight() + e.connection().bytes_unsent());
    }
    rows.push_back({std::to_string(e.id()), state_name(e.state()), recv_q, send_q,
                    address(e.local(), true), address(e.remote(), e.has_remote()), syn_q});
  }
  std::vector<std::string> lines = format_table(rows);
  std::cout << lines.front() << "\n";
  for (int i = 0; i < list.endpoints_size(); ++i) {
    std::cout << lines[static_cast<size_t>(i) + 1] << "\n";
    const v1::Endpoint& e = list.endpoints(i);
    if (details && e.has_connection())
      std::cout << "\t" << connection_details(e.connection()) << options_details(e) << "\n";
  }
}

void print_admission(const v1::Admission& admission) {
  std::vector<std::vector<std::string>> rows;
  if (!admission.has_policy()) {
    rows.push_back({"policy:", "none (every SYN is admitted)"});
  } else {
    const v1::AdmissionPolicy& p = admission.policy();
    auto list = [](const google::protobuf::RepeatedPtrField<std::string>& prefixes,
                   const char* if_empty) {
      return prefixes.empty() ? std::string(if_empty) : join(prefixes, " ");
    };
    auto per_source = [](uint32_t cap) {
      return cap == 0 ? std::string("-") : std::to_string(cap) + " per source prefix";
    };
    rows.push_back({"deny:", list(p.deny(), "-")});
    rows.push_back({"allow:", list(p.allow(), "- (every source not denied)")});
    rows.push_back({"lists refuse:", refusal_name(p.list_refusal())});
    rows.push_back(
        {"source prefix:", "/" + std::to_string(p.ipv4_source_prefix().value()) + " IPv4, /" +
                               std::to_string(p.ipv6_source_prefix().value()) + " IPv6"});
    rows.push_back({"syn rate:", p.has_syn_rate()
                                     ? number_text(p.syn_rate().per_second()) + "/s, burst " +
                                           std::to_string(p.syn_rate().burst()) +
                                           " per source prefix"
                                     : "-"});
    rows.push_back({"rate refuses:", refusal_name(p.rate_refusal())});
    rows.push_back({"max half-open:", per_source(p.max_half_open())});
    rows.push_back({"max connections:", per_source(p.max_connections())});
    rows.push_back({"caps refuse:", refusal_name(p.cap_refusal())});
    rows.push_back({"source table:", std::to_string(p.source_table_size().value()) +
                                         " source prefixes, and syn_backlog more with handshakes"});
  }
  print_table(rows);
  const v1::AdmissionCounters& c = admission.counters();
  std::cout << "\n";
  rows = {{"SYNs", "reason", "count"}, {"admitted", "", std::to_string(c.admitted())}};
  for (const v1::AdmissionRefusals& r : c.refused()) {
    rows.push_back({"refused", r.reason(), std::to_string(r.syns())});
  }
  print_table(rows);
  std::cout << "\nsource prefixes tracked: " << c.sources() << ", evicted: " << c.sources_evicted()
            << "\n";
}

void print_stats(const v1::Stats& stats) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::Counter& c : stats.counters())
    rows.push_back({c.name(), std::to_string(c.value())});
  rows.push_back({});
  rows.push_back({"dropped, by reason:"});
  for (const v1::Counter& c : stats.drops()) {
    rows.push_back({"  " + c.name(), std::to_string(c.value())});
  }
  rows.push_back({});
  rows.push_back({"endpoints, by state:"});
  for (const v1::StateCount& s : stats.endpoints()) {
    rows.push_back({"  " + state_name(s.state()), std::to_string(s.count())});
  }
  rows.push_back({});
  rows.push_back({"kernel cookie path:", stats.kernel_cookie_path_attached() ? "attached" : "off"});
  if (stats.kernel_cookie_listeners_size() > 0) {
    rows.push_back(
        {"  port", "cookie mode", "SYN-ACKs", "ACKs passed", "ACKs refused", "SYNs dropped"});
  }
  for (const v1::KernelCookieListener& l : stats.kernel_cookie_listeners()) {
    rows.push_back({"  " + std::to_string(l.port()), l.cookie_mode() ? "on" : "off",
                    std::to_string(l.synacks()), std::to_string(l.acks_passed()),
                    std::to_string(l.acks_refused()), std::to_string(l.syns_dropped())});
  }
  print_table(rows);
}

void print_config(const v1::Config& c) {
  const v1::Tunables& t = c.tunables();
  std::string cookies = v1::SynCookieMode_Name(t.syncookies());
  std::transform(cookies.begin(), cookies.end(), cookies.begin(), ::tolower);
  print_table({
      {"tap", c.tap()},
      {"addresses", join(c.addresses(), " ")},
      {"mac", c.mac()},
      {"gateway", c.gateway().empty() ? "-" : c.gateway()},
      {"ipv6_gateway", c.ipv6_gateway().empty() ? "-" : c.ipv6_gateway()},
      {"mtu", std::to_string(c.mtu())},
      {"max_endpoints", std::to_string(c.max_endpoints())},
      {"default_backlog", std::to_string(c.default_backlog())},
      {"syncookies", strip_prefix(cookies, "syn_cookie_mode_")},
      {"syn_retries", std::to_string(t.syn_retries().value())},
      {"synack_retries", std::to_string(t.synack_retries().value())},
      {"abort_on_overflow", t.abort_on_overflow().value() ? "true" : "false"},
  });
}

void print_event(const v1::WatchEventsResponse& response) {
  if (response.has_lost()) {
    std::cout << "!! lost " << response.lost().count() << " events (the watcher fell behind)\n";
    return;
  }
  const v1::EndpointEvent& e = response.event();
  std::string line = "#" + std::to_string(e.sequence()) + " " +
                     strip_prefix(v1::EndpointEvent::Kind_Name(e.kind()), "KIND_") + " endpoint " +
                     std::to_string(e.endpoint_id());
  if (e.listener_id() != 0) line += " listener " + std::to_string(e.listener_id());
  line += " " + state_name(e.state());
  if (e.kind() == v1::EndpointEvent::KIND_ESTABLISHED) {
    double ms = static_cast<double>(e.handshake_duration().seconds()) * 1e3 +
                e.handshake_duration().nanos() / 1e6;
    char buf[48];
    std::snprintf(buf, sizeof buf, " handshake %.3f ms", ms);
    line += buf;
  }
  // A connection's final figures, under its last events (the others carry them too).
  if (e.has_connection() &&
      (e.state() == v1::TCP_STATE_CLOSED || e.state() == v1::TCP_STATE_TIME_WAIT)) {
    line += "\n\t" + connection_details(e.connection());
  }
  std::cout << line << std::endl;  // flushed: watch is read live
}

}  // namespace tapstack::ctl
