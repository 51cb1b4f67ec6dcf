#include "actors/service_notify.hpp"

#include <ctime>

#include <systemd/sd-daemon.h>

#include "net/log.hpp"

namespace px::service {

namespace {

/// Sends `state` (lines "KEY=VALUE") when a service manager listens; a
/// failure is logged at debug level (the proxy runs on without it).
void notify(const std::string& state) {
  int rc = sd_notify(0, state.c_str());
  if (rc < 0)
    log::debug("sd_notify failed: error " + std::to_string(-rc));
}

/// "STATUS=TEXT" without line breaks (a status is one line).
std::string status_line(const std::string& text) {
  auto line = "STATUS=" + text;
  for (auto& c : line)
    if (c == '\n' || c == '\r')
      c = ' ';
  return line;
}

} // namespace

void ready(const std::string& text) {
  notify("READY=1\n" + status_line(text));
}

void reloading(const std::string& text) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL
              + static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\n"
         + status_line(text));
}

void stopping(const std::string& text) {
  notify("STOPPING=1\n" + status_line(text));
}

void status(const std::string& text) {
  notify(status_line(text));
}

} // namespace px::service
