// How tapstackctl prints results: people get tables and short blocks, scripts (-o json) get
// protobuf JSON with the proto's field names, one object per line.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <string>

#include "tapstack/v1/endpoints.pb.h"
#include "tapstack/v1/stack.pb.h"

namespace tapstack::ctl {

void print_json(const google::protobuf::Message& message);

// "LISTEN", "SYN_SENT", ...: the proto enum name without its prefix.
std::string state_name(v1::TcpState state);
std::string code_name(grpc::StatusCode code);

// One line like `ss -ti`'s second one: congestion control, RTT, windows and byte counts.
std::string connection_details(const v1::ConnectionStatus& connection);
void print_endpoint(const v1::Endpoint& endpoint);
// Like `ss -tan`; with `details`, each connection gets its connection_details line under it,
// as `ss -tani` prints.
void print_endpoint_table(const v1::ListEndpointsResponse& list, bool details);
// `policy show`: the listener's admission policy, every field, then its counters as a table.
void print_admission(const v1::Admission& admission);
void print_stats(const v1::Stats& stats);
void print_config(const v1::Config& config);
void print_event(const v1::WatchEventsResponse& event);

}  // namespace tapstack::ctl
