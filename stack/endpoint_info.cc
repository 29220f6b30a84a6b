#include "stack/endpoint_info.h"

namespace tapstack {

std::string_view to_string(TcpState state) {
  switch (state) {
    case TcpState::kInitial:
      return "INITIAL";
    case TcpState::kBound:
      return "BOUND";
    case TcpState::kListen:
      return "LISTEN";
    case TcpState::kSynSent:
      return "SYN_SENT";
    case TcpState::kSynReceived:
      return "SYN_RECEIVED";
    case TcpState::kEstablished:
      return "ESTABLISHED";
    case TcpState::kFinWait1:
      return "FIN_WAIT_1";
    case TcpState::kFinWait2:
      return "FIN_WAIT_2";
    case TcpState::kCloseWait:
      return "CLOSE_WAIT";
    case TcpState::kClosing:
      return "CLOSING";
    case TcpState::kLastAck:
      return "LAST_ACK";
    case TcpState::kTimeWait:
      return "TIME_WAIT";
    case TcpState::kClosed:
      return "CLOSED";
  }
  return "UNKNOWN";
}

std::string_view to_string(Event::Kind kind) {
  switch (kind) {
    case Event::Kind::kStateChanged:
      return "STATE_CHANGED";
    case Event::Kind::kConnectionReady:
      return "CONNECTION_READY";
    case Event::Kind::kEstablished:
      return "ESTABLISHED";
    case Event::Kind::kRefused:
      return "REFUSED";
    case Event::Kind::kTimedOut:
      return "TIMED_OUT";
    case Event::Kind::kUnreachable:
      return "UNREACHABLE";
    case Event::Kind::kReset:
      return "RESET";
    case Event::Kind::kReleased:
      return "RELEASED";
    case Event::Kind::kReadable:
      return "READABLE";
    case Event::Kind::kWritable:
      return "WRITABLE";
  }
  return "UNKNOWN";
}

}  // namespace tapstack
