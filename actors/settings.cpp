#include "actors/settings.hpp"

#include <string>

#include <caf/all.hpp>

#include "net/log.hpp"

namespace px {

session_settings make_settings(const config::proxy_config& cfg) {
  session_settings s;
  s.auth = cfg.auth;
  s.buffer_size = cfg.buffer_size;
  s.max_clients = cfg.max_clients;
  s.handshake_timeout_ms = cfg.handshake_timeout.count();
  s.connect_timeout_ms = cfg.connect_timeout.count();
  s.bind_timeout_ms = cfg.bind_timeout.count();
  s.idle_timeout_ms = cfg.idle_timeout.count();
  s.splice = cfg.splice;
  s.allow_clients = cfg.allow_clients;
  s.deny_destinations = cfg.deny_destinations;
  return s;
}

void settings_state::publish(settings_actor::pointer self) const {
  if (subscriber)
    self->send(subscriber, current);
}

settings_actor::behavior_type
settings(settings_actor::stateful_pointer<settings_state> self,
         session_settings initial, acceptor_actor subscriber) {
  self->state.current = std::move(initial);
  self->state.subscriber = std::move(subscriber);
  return {
    [=](get_atom) { return self->state.current; },
    [=](buffer_atom, uint64_t size) {
      if (size < min_buffer_size || size > max_buffer_size)
        return false;
      self->state.current.buffer_size = size;
      log::info("buffer size set to " + std::to_string(size));
      self->state.publish(self);
      return true;
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
      if (cmd.size() > 255 || cmd.find('\0') != std::string::npos)
        return false;
      auto& current = self->state.current;
      current.transform = std::move(cmd);
      log::info(current.transform.empty()
                  ? std::string{"transformation off"}
                  : "transformation set to: " + current.transform);
      self->state.publish(self);
      return true;
    },
  };
}

} // namespace px
