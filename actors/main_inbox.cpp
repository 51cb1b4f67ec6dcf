#include "actors/main_inbox.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace px {

main_inbox::main_inbox(const sigset_t& signals) {
  signal_fd_ = ::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (signal_fd_ < 0 || event_fd_ < 0)
    error_ = std::string{"cannot wait for signals and reload requests: "}
             + std::strerror(errno);
}

main_inbox::~main_inbox() {
  if (signal_fd_ >= 0)
    ::close(signal_fd_);
  if (event_fd_ >= 0)
    ::close(event_fd_);
}

void main_inbox::ring() {
  uint64_t one = 1;
  // Fails only when the counter would overflow: a request is pending then.
  [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof(one));
}

int main_inbox::take_signal() {
  signalfd_siginfo info{};
  auto n = ::read(signal_fd_, &info, sizeof(info));
  return n == static_cast<ssize_t>(sizeof(info)) ? static_cast<int>(info.ssi_signo)
                                                 : 0;
}

int main_inbox::next() {
  for (;;) {
    if (auto sig = take_signal(); sig != 0)
      return sig;
    uint64_t count = 0;
    if (::read(event_fd_, &count, sizeof(count)) == sizeof(count))
      return reload_request;
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {event_fd_, POLLIN, 0}};
    // EINTR or a wake-up: look again.
    ::poll(fds, 2, -1);
  }
}

} // namespace px
