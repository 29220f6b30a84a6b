// Cookie mode: which listeners answer every SYN with a cookie, published to the kernel cookie
// path (cookie_path.h), which then answers those SYNs before the TAP's queue.
//
// Linux's rule, unchanged: a listener answers with cookies while its SYN-RCVD table (or the
// table of all half-open records) is full, and always with syncookies `always`. With the SYNs
// answered in the kernel, the table keeps the records it had when it filled; as they complete or
// time out the mode goes off, the next SYNs reach the engine and refill it, as new SYNs refill
// Linux's queue under a flood.
//
// A listener with an admission policy is never published in cookie mode: the program would
// answer SYNs the policy never saw (a denied or rate-limited source would get its SYN-ACK). Its
// SYNs all reach the engine, which checks them first and answers the admitted ones with a
// cookie itself when the table is full; the program still passes its cookie ACKs on, and the
// policy checks them too.
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

void Tcp::attach_cookie_path(const CookiePathMemory& memory) {
  cookie_path_.attach(memory,
                      {config_.mac, config_.address, config_.gateway, our_mss(IpFamily::kIpv4),
                       syn_window(), our_window_scale_, isn_.key(), tuple_hash_.seed},
                      cookies_);
  connections_.count_live();
  half_open_.count_live();
  time_wait_.count_live();
  publish_listeners();
}

void Tcp::set_tunable(const TunableConfig& tunable) {
  tunable_ = tunable;
  publish_listeners();
}

bool Tcp::half_open_table_full() const {
  return half_open_.size() >= config_.max_half_open;
}

bool Tcp::in_cookie_mode(const Listener& l) const {
  switch (tunable_.syncookies) {
    case SynCookieMode::kNever:
      return false;
    case SynCookieMode::kAlways:
      return true;
    case SynCookieMode::kAuto:
      return syn_table_full(l);
  }
  return false;
}

void Tcp::publish_listener(Listener& l) {
  if (!cookie_path_.attached()) return;
  bool on = !l.admission && in_cookie_mode(l);
  if (on != l.cookie_mode_published) {
    if (on) {
      stats_.cookie_mode_entered.add();
    } else {
      stats_.cookie_mode_left.add();
      // The program may have sent cookies until now: they stay checkable for their lifetime.
      l.last_cookie_sent = now_;
    }
    l.cookie_mode_published = on;
  }
  // The program answers IPv4 only; an IPv6 listener's cookies are the engine's own.
  if (l.families.has(IpFamily::kIpv4)) {
    cookie_path_.set_listener(l.port, {on, accept_queue_full(l), cookies_checkable_until(l)});
  }
}

void Tcp::publish_listeners() {
  for (const auto& [port, slots] : listeners_) {
    if (slots[0]) publish_listener(*slots[0]);
    if (slots[1] && slots[1] != slots[0]) publish_listener(*slots[1]);  // a dual-stack one once
  }
}

bool Tcp::half_open_table_changed() {
  // The table of all half-open records filling or emptying changes every listener's mode.
  if (half_open_table_full() == half_open_table_full_published_) return false;
  half_open_table_full_published_ = !half_open_table_full_published_;
  publish_listeners();
  return true;
}

void Tcp::half_open_changed(Listener& l) {
  if (!half_open_table_changed()) publish_listener(l);
}

}  // namespace tapstack::tcp
