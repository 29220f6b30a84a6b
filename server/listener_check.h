// Accept and StreamAccept wait on a listener: the endpoint must exist and be one.
#pragma once

#include <string>

#include "stack/engine.h"

namespace tapstack::server {

// Loop thread.
inline Status check_listener(Engine& engine, EndpointId id) {
  if (id == 0) return error(ErrorCode::kInvalidArgument, "id is required (endpoints start at 1)");
  auto info = engine.query(id);
  if (!info.is_ok()) return info.status();
  if (!info->listener) {
    return error(ErrorCode::kFailedPrecondition, "endpoint " + std::to_string(id) +
                                                     " is not listening (state " +
                                                     std::string(to_string(info->state)) + ")");
  }
  return Status::ok();
}

}  // namespace tapstack::server
