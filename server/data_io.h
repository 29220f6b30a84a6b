// What the data calls (Read, Write, ReadStream, WriteStream, the demo listener's echo) share:
// the size limit of one message, the loop thread's read buffer, and how an engine error on a
// connection becomes the call's status.
#pragma once

#include <grpcpp/support/status.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/endpoint_info.h"
#include "stack/status.h"

namespace tapstack::server {

// The most data one message carries, either way: each data call holds at most this much of the
// daemon's memory, so --grpc-max-calls bounds the total (1024 calls: 256 MiB).
inline constexpr size_t kMaxDataMessage = 256 * 1024;
// What a ReadStream message carries at most unless the caller asks otherwise.
inline constexpr size_t kDefaultStreamMessage = 64 * 1024;

// Loop thread: a buffer of `size` (at most kMaxDataMessage) bytes to read into, one per
// thread, so that a call waiting to read holds no buffer of its own.
std::span<uint8_t> read_buffer(size_t size);

inline bool would_block(const Status& status) {
  return status.code == ErrorCode::kWouldBlock;
}

// An engine error on connection `id` as the call's status. `waited`: the call had found the
// endpoint before, so NOT_FOUND now means another call closed it meanwhile (ABORTED).
grpc::Status data_status(const Status& status, EndpointId id, bool waited);

}  // namespace tapstack::server
