#include "actors/acceptor.hpp"

#include <utility>

#include <caf/all.hpp>

#include "net/log.hpp"

namespace px {

void acceptor_state::publish(acceptor_actor::pointer self) const {
  desk->publish(admission_policy::make(settings, logins, self));
}

acceptor_actor::behavior_type
acceptor(acceptor_actor::stateful_pointer<acceptor_state> self,
         session_settings settings, std::shared_ptr<admission_desk> desk) {
  auto& st = self->state;
  st.settings = std::move(settings);
  st.desk = std::move(desk);
  st.publish(self);
  return {
    [=](client_refused& msg) {
      self->send(self->state.desk->deps().metrics, metric_event{msg.reason, 0});
      if (msg.reason == metric::rejected_client_rule)
        log::info("refused client " + msg.peer.to_string() + ": not in allow_client");
      else
        log::debug("refused client " + msg.peer.to_string() + ": max_clients reached");
    },
    [=](logins_update& msg) {
      self->state.logins = std::move(msg.logins);
      self->state.publish(self);
    },
    [=](session_settings& s) {
      self->state.settings = std::move(s);
      self->state.publish(self);
    },
  };
}

} // namespace px
