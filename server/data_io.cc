#include "server/data_io.h"

#include <string>
#include <vector>

#include "server/proto_convert.h"

namespace tapstack::server {

std::span<uint8_t> read_buffer(size_t size) {
  thread_local std::vector<uint8_t> buffer(kMaxDataMessage);
  return std::span(buffer).first(std::min(size, buffer.size()));
}

grpc::Status data_status(const Status& status, EndpointId id, bool waited) {
  if (waited && status.code == ErrorCode::kNotFound) {
    return {grpc::StatusCode::ABORTED,
            "endpoint " + std::to_string(id) + " was closed while this call waited"};
  }
  return to_grpc(status);
}

}  // namespace tapstack::server
