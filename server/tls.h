// gRPC server credentials from the daemon's TLS flags: plaintext without a certificate, TLS
// with one, mutual TLS when a client CA is given. The PEM files are read and checked here
// (they parse, the key matches the certificate), so a bad file is a clear startup error.
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "server/flags.h"
#include "stack/status.h"

namespace tapstack::server {

Result<std::shared_ptr<grpc::ServerCredentials>> server_credentials(const DaemonOptions& options);

}  // namespace tapstack::server
