#include "admin/login_guard.hpp"

#include <algorithm>
#include <string>

#include <caf/all.hpp>

#include "net/log.hpp"

namespace px {

using namespace std::chrono;

namespace {

auto source_of(const net::ip_endpoint& ip) {
  return std::make_pair(ip.v6, ip.bytes);
}

} // namespace

std::chrono::seconds login_guard_state::lock_after(int failures) {
  if (failures <= free_failures)
    return seconds{0};
  auto lock = first_lock;
  for (int i = free_failures + 1; i < failures && lock < max_lock; ++i)
    lock *= 2;
  return std::min<seconds>(lock, max_lock);
}

std::chrono::nanoseconds
login_guard_state::locked_for(const net::ip_endpoint& source,
                              time_point now) const {
  auto i = sources.find(source_of(source));
  if (i == sources.end() || i->second.locked_until <= now)
    return nanoseconds{0};
  return i->second.locked_until - now;
}

std::chrono::seconds login_guard_state::failed(const net::ip_endpoint& source,
                                               time_point now) {
  // Forget stale records; when still full, the oldest one goes.
  for (auto i = sources.begin(); i != sources.end();)
    i = now - i->second.last_failure > forget_after ? sources.erase(i) : std::next(i);
  auto key = source_of(source);
  if (sources.size() >= max_sources && sources.count(key) == 0) {
    auto oldest = std::min_element(sources.begin(), sources.end(),
                                   [](const auto& x, const auto& y) {
                                     return x.second.last_failure
                                            < y.second.last_failure;
                                   });
    sources.erase(oldest);
  }
  auto& r = sources[key];
  ++r.failures;
  r.last_failure = now;
  auto lock = lock_after(r.failures);
  if (lock.count() > 0)
    r.locked_until = now + lock;
  return lock;
}

void login_guard_state::succeeded(const net::ip_endpoint& source) {
  sources.erase(source_of(source));
}

login_guard_actor::behavior_type
login_guard(login_guard_actor::stateful_pointer<login_guard_state> self) {
  return {
    [=](auth_atom, const net::ip_endpoint& source) -> caf::timespan {
      return self->state.locked_for(source, self->clock().now());
    },
    [=](auth_atom, const net::ip_endpoint& source, bool ok) {
      auto& st = self->state;
      if (ok) {
        st.succeeded(source);
        return;
      }
      auto lock = st.failed(source, self->clock().now());
      if (lock.count() > 0)
        log::warning("admin logins from " + source.host_string() + " locked for "
                     + std::to_string(lock.count()) + " s after "
                     + std::to_string(st.sources[source_of(source)].failures)
                     + " failed logins from this address");
    },
  };
}

} // namespace px
