#include "server/listen_check.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace tapstack::server {
namespace {

Status check_unix(const std::string& what, const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return error(ErrorCode::kInvalidArgument, what + ": bad unix socket path '" + path + "'");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::ok();  // gRPC creates it
  if (!S_ISSOCK(st.st_mode)) {
    return error(ErrorCode::kAlreadyExists, what + ": " + path + " exists and is not a socket");
  }
  // gRPC replaces a socket file that is there; refuse if something still answers on it.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  bool live = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (fd >= 0) ::close(fd);
  if (live) return error(ErrorCode::kAlreadyExists, what + ": " + path + " is in use");
  return Status::ok();
}

}  // namespace

Status check_listen_address(const std::string& what, const std::string& spec, bool unix_ok) {
  if (unix_ok && spec.starts_with("unix:")) return check_unix(what, spec.substr(5));
  size_t colon = spec.rfind(':');
  if (colon == std::string::npos || colon + 1 == spec.size()) {
    return error(ErrorCode::kInvalidArgument, what + ": '" + spec + "' is not HOST:PORT");
  }
  std::string host = spec.substr(0, colon);
  std::string port = spec.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  // getaddrinfo takes any number as a service and truncates it to 16 bits.
  unsigned long number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc{} || end != port.data() + port.size() || number == 0 || number > 65535) {
    return error(ErrorCode::kInvalidArgument, what + ": port must be 1..65535 in '" + spec + "'");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return error(ErrorCode::kInvalidArgument,
                 what + ": cannot use '" + spec + "': " + ::gai_strerror(rc));
  }
  Status status;
  int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0);
  int one = 1;
  // SO_REUSEADDR as gRPC and civetweb set it: a port in TIME-WAIT is not "in use".
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 1) != 0) {
    status = error(errno == EADDRINUSE ? ErrorCode::kAlreadyExists : ErrorCode::kUnavailable,
                   what + ": cannot listen on " + spec + ": " + std::strerror(errno));
  }
  if (fd >= 0) ::close(fd);
  ::freeaddrinfo(found);
  return status;
}

}  // namespace tapstack::server
