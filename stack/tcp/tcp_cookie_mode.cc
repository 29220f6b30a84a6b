// Cookie mode: which listeners answer every SYN with a cookie, shared with the kernel cookie
// path (cookie_path.h) that answers them before the TAP's queue.
//
// Linux answers with cookies while a listener's SYN queue is full. With the SYNs answered in the
// kernel that queue stays empty, so the rule becomes a mode: a listener enters it when its
// SYN-RCVD table overflows and stays in it while the SYNs it is sent in one second (the initial
// RTO, the time a half-open record waits before its first retransmission) would still fill its
// SYN backlog; then it leaves, and the engine answers its SYNs from half-open records again.
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

namespace {
constexpr Duration kCookieModeCheck = seconds(1);
}  // namespace

void Tcp::attach_cookie_path(const CookiePathMemory& memory) {
  cookie_path_.attach(memory,
                      {config_.mac, config_.address, our_mss_, syn_window(), our_window_scale_,
                       isn_.key(), tuple_hash_.seed},
                      cookies_);
  connections_.count_live();
  half_open_.count_live();
  time_wait_.count_live();
  for (const auto& [port, listener] : listeners_) publish_listener(*listener);
}

void Tcp::set_tunable(const TunableConfig& tunable) {
  tunable_ = tunable;
  for (const auto& [port, listener] : listeners_) publish_listener(*listener);
}

bool Tcp::in_cookie_mode(const Listener& l) const {
  switch (tunable_.syncookies) {
    case SynCookieMode::kNever:
      return false;
    case SynCookieMode::kAlways:
      return true;
    case SynCookieMode::kAuto:
      return l.cookie_mode;
  }
  return false;
}

void Tcp::publish_listener(const Listener& l) {
  cookie_path_.set_listener(l.port, in_cookie_mode(l), accept_queue_full(l));
}

void Tcp::enter_cookie_mode(Listener& l) {
  // Without the kernel path the engine sees every SYN, so Linux's rule holds as it is.
  if (!cookie_path_.attached() || l.cookie_mode) return;
  l.cookie_mode = true;
  l.synacks_at_check = l.cookie_synacks + cookie_path_.synacks(l.port);
  stats_.cookie_mode_entered.add();
  timers_.arm(l, now_ + kCookieModeCheck);
  publish_listener(l);
}

void Tcp::cookie_mode_timer(Listener& l) {
  uint64_t synacks = l.cookie_synacks + cookie_path_.synacks(l.port);
  if (tunable_.syncookies == SynCookieMode::kAuto &&
      synacks - l.synacks_at_check >= l.syn_backlog) {
    l.synacks_at_check = synacks;
    timers_.arm(l, now_ + kCookieModeCheck);
    return;
  }
  l.cookie_mode = false;
  // Cookies sent until now stay checkable for their lifetime (cookies_checkable).
  l.last_cookie_sent = now_;
  stats_.cookie_mode_left.add();
  publish_listener(l);
}

}  // namespace tapstack::tcp
