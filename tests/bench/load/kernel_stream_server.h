// The kernel listener's echo and discard modes (tapstack_kernel_listener ... MODE), the kernel's
// counterpart of tapstackd's and gVisor's: one epoll loop per listening socket serves every
// connection it accepts, echoing what it reads or dropping it, and closes a connection
// gracefully once the peer has finished (at once on an error or a reset).
#pragma once

#include <atomic>

namespace tapstack::bench {

enum class StreamMode { kEcho, kDiscard };

// Serves `listen_fd`'s connections until `stop` (checked at least every 100 ms); returns how
// many it accepted.
long serve_streams(int listen_fd, StreamMode mode, const std::atomic<bool>& stop);

}  // namespace tapstack::bench
