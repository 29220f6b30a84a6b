// Startup checks of listening addresses. Binding each one briefly before the gRPC server and
// the exporter try turns "port in use" or "no such address" into one clear line, instead of a
// gRPC or civetweb log and a vague failure.
#pragma once

#include <string>

#include "stack/status.h"

namespace tapstack::server {

// `spec` is HOST:PORT, [IPV6]:PORT or (if `unix_ok`) unix:PATH; `what` names it in messages.
Status check_listen_address(const std::string& what, const std::string& spec, bool unix_ok);

}  // namespace tapstack::server
