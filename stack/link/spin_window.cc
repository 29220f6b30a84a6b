#include "stack/link/spin_window.h"

#include <algorithm>

namespace tapstack::link {

Time SpinWindow::until(Time last_input, std::optional<Time> deadline) {
  if (length_ <= Duration::zero()) return {};
  Time end = last_input + length_;
  cut_by_deadline_ = deadline && *deadline < end;
  return cut_by_deadline_ ? *deadline : end;
}

void SpinWindow::spun(bool caught) {
  if (caught) {
    caught_.add();
  } else if (!cut_by_deadline_) {
    missed_.add();
  }
  if (!policy_.adaptive) return;
  if (caught) {
    length_ = std::min(length_ * 2, policy_.window);
  } else if (!cut_by_deadline_) {  // a timer that ended it says nothing about the traffic
    length_ = std::max(length_ / 2, std::min(kAdaptiveFloor, policy_.window));
  }
}

}  // namespace tapstack::link
