#include "actors/settings.hpp"

#include <chrono>
#include <string>

#include <caf/all.hpp>

#include "config/upstream_parse.hpp"
#include "net/log.hpp"

namespace px {

namespace {

/// How long a reload waits for the acceptor to publish the new policy.
constexpr auto publish_timeout = std::chrono::seconds{10};

/// Logs that the file's `next` replaces the admin plane's `now` for `key`
/// (when the admin plane had changed it from `file` and it differs).
void report_override(const char* key, uint64_t file, uint64_t now, uint64_t next) {
  if (now != file && now != next)
    log::info("reload: " + std::string{key} + " " + std::to_string(now)
              + " set over the admin plane replaced by the file's "
              + std::to_string(next));
}

} // namespace

session_settings make_settings(const config::proxy_config& cfg) {
  session_settings s;
  s.auth = cfg.auth;
  s.buffer_size = cfg.buffer_size;
  s.max_clients = cfg.max_clients;
  s.handshake_timeout_ms = cfg.handshake_timeout.count();
  s.connect_timeout_ms = cfg.connect_timeout.count();
  s.prefer = cfg.prefer;
  s.attempt_delay_ms = cfg.happy_eyeballs_delay.count();
  s.bind_timeout_ms = cfg.bind_timeout.count();
  s.idle_timeout_ms = cfg.idle_timeout.count();
  s.splice = cfg.splice;
  s.allow_clients = cfg.allow_clients;
  s.source_sessions = cfg.source_sessions;
  s.source_connect_rate = cfg.source_connect_rate;
  // Compiled once per start or reload; every session and loop shares it.
  s.rules = std::make_shared<const net::rule_set>(cfg.deny_destinations, cfg.rules,
                                                  cfg.rules_default);
  // Null when no profile changes anything: the loops skip the lookup.
  if (!cfg.outbound.trivial())
    s.outbound = std::make_shared<const net::outbound_table>(cfg.outbound);
  s.udp_advertise = cfg.udp_advertise.value_or(net::ip_endpoint{});
  s.bind_advertise = cfg.bind_advertise.value_or(net::ip_endpoint{});
  s.per_listener = cfg.per_listener;
  s.upstream = config::compile_upstream(cfg);
  s.transform_allowed = cfg.transform_allowed;
  return s;
}

net::account_limits user_limits(const config::proxy_config& cfg) {
  net::account_limits out;
  out.sessions = cfg.user_sessions;
  out.connect_rate = cfg.user_connect_rate;
  out.bandwidth_up = cfg.user_bandwidth_up;
  out.bandwidth_down = cfg.user_bandwidth_down;
  return out;
}

void settings_state::publish(settings_actor::pointer self) const {
  if (subscriber)
    self->send(subscriber, current);
}

setting_change settings_state::set_transform(std::string cmd) {
  if (cmd.size() > 255 || cmd.find('\0') != std::string::npos)
    return setting_change::out_of_range;
  if (!current.transform_allowed) {
    // Turning it off is what the file wants anyway.
    if (cmd.empty())
      return setting_change::applied;
    log::info("transformation refused: transform_command = off in the config");
    return setting_change::disabled;
  }
  current.transform = std::move(cmd);
  log::info(current.transform.empty()
              ? std::string{"transformation off"}
              : "transformation set to: " + current.transform);
  return setting_change::applied;
}

void settings_state::reload(session_settings next) {
  report_override("buffer_size", from_file.buffer_size, current.buffer_size,
                  next.buffer_size);
  report_override("max_clients", from_file.max_clients, current.max_clients,
                  next.max_clients);
  from_file = next;
  if (next.transform_allowed)
    next.transform = std::move(current.transform);
  else if (!current.transform.empty())
    log::info("transformation off: transform_command = off in the config");
  current = std::move(next);
}

settings_actor::behavior_type
settings(settings_actor::stateful_pointer<settings_state> self,
         session_settings initial, acceptor_actor subscriber) {
  self->state.current = initial;
  self->state.from_file = std::move(initial);
  self->state.subscriber = std::move(subscriber);
  return {
    [=](get_atom) { return self->state.current; },
    [=](buffer_atom, uint64_t size) {
      if (size < min_buffer_size || size > max_buffer_size)
        return setting_change::out_of_range;
      self->state.current.buffer_size = size;
      log::info("buffer size set to " + std::to_string(size));
      self->state.publish(self);
      return setting_change::applied;
    },
    [=](maxcli_atom, uint64_t n) {
      if (n < 1 || n > max_max_clients)
        return false;
      self->state.current.max_clients = n;
      log::info("max clients set to " + std::to_string(n));
      self->state.publish(self);
      return true;
    },
    [=](transform_atom, std::string& cmd) {
      auto res = self->state.set_transform(std::move(cmd));
      if (res == setting_change::applied)
        self->state.publish(self);
      return res;
    },
    [=](reload_atom, session_settings& next) -> caf::result<bool> {
      auto& st = self->state;
      st.reload(std::move(next));
      if (!st.subscriber)
        return true;
      // Answered once the acceptor published the policy: a READY=1 after
      // the reload means new clients get the new rules.
      auto rp = self->make_response_promise<bool>();
      self->request(st.subscriber, publish_timeout, st.current)
        .then([rp]() mutable { rp.deliver(true); },
              [rp](const caf::error&) mutable { rp.deliver(false); });
      return rp;
    },
  };
}

} // namespace px
