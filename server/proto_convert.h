// Conversions between the engine's types and tapstack.v1 messages, and from engine Status to
// gRPC status (the codes map one to one).
#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "stack/endpoint_info.h"
#include "stack/header/ip_address.h"
#include "stack/status.h"
#include "stack/tcp/admission_policy.h"
#include "stack/tcp/syn_cookies.h"
#include "tapstack/v1/endpoints.pb.h"
#include "tapstack/v1/stack.pb.h"

namespace tapstack::server {

grpc::Status to_grpc(const Status& status);
inline grpc::Status grpc_error(grpc::StatusCode code, const std::string& message) {
  return {code, message};
}

v1::TcpState to_proto(TcpState state);
std::optional<TcpState> from_proto(v1::TcpState state);
v1::EndpointEvent::Kind to_proto(Event::Kind kind);
v1::SynCookieMode to_proto(tcp::SynCookieMode mode);
std::optional<tcp::SynCookieMode> from_proto(v1::SynCookieMode mode);

std::string endpoint_name(EndpointId id);
void to_proto(const EndpointInfo& info, v1::Endpoint* out);
void to_proto(const ConnectionInfo& info, v1::ConnectionStatus* out);
// Keepalive times travel as Durations of whole seconds (Linux's are whole seconds too).
void to_proto(const Keepalive& keepalive, v1::Keepalive* out);
Result<Keepalive> from_proto(const v1::Keepalive& keepalive);
// The options a SetOptions request changes; the engine checks their range.
Result<OptionsChange> from_proto(const v1::SetOptionsRequest& request);

// Admission policies (proto_convert_admission.cc). from_proto fills the defaults of unset
// fields and checks the policy (AdmissionPolicy::validate) before any engine sees it, so that a
// Listen with a bad policy changes nothing. Errors are INVALID_ARGUMENT: a prefix that does not
// parse, or a value the engine's type cannot hold, names its field under `field` (the
// request's: "admission", "policy") and the value; the rest is validate()'s message, which
// names the rule and the value.
Result<tcp::AdmissionPolicy> from_proto(const v1::AdmissionPolicy& policy,
                                        const std::string& field);
void to_proto(const tcp::AdmissionPolicy& policy, v1::AdmissionPolicy* out);
void to_proto(const tcp::AdmissionCounters& counters, v1::AdmissionCounters* out);

// Parses an address field of either family: empty is `if_empty`; otherwise a dotted quad or
// IPv6 text (no brackets, no zone), else INVALID_ARGUMENT.
Result<IpAddress> parse_address(const std::string& field, const std::string& text,
                                std::optional<IpAddress> if_empty);
// A port field must fit in 16 bits (and be non-zero unless `zero_ok`).
Result<uint16_t> parse_port(const std::string& field, uint32_t port, bool zero_ok);

}  // namespace tapstack::server
