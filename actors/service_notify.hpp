// The service manager's readiness protocol (sd_notify(3), systemd's
// Type=notify and Type=notify-reload): one datagram to $NOTIFY_SOCKET per
// state change. Without $NOTIFY_SOCKET every call does nothing. Called from
// the main thread only (start, reload, stop): a datagram to a local socket,
// never on a scheduler or loop thread.
#pragma once

#include <string>

namespace px::service {

/// READY=1 with a STATUS= line: every listener accepts (after a start) or
/// the reload is applied.
void ready(const std::string& status);

/// RELOADING=1 with MONOTONIC_USEC= (systemd 253 and later require it for
/// Type=notify-reload; older ones ignore it) and a STATUS= line.
void reloading(const std::string& status);

/// STOPPING=1 with a STATUS= line: the shutdown has begun.
void stopping(const std::string& status);

/// A STATUS= line alone.
void status(const std::string& status);

} // namespace px::service
