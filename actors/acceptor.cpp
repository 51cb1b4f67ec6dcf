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
      auto who = "refused client " + msg.peer.to_string();
      switch (msg.reason) {
        case metric::rejected_client_rule:
          log::info(who + ": not in allow_client");
          break;
        case metric::rejected_source_sessions:
          log::info(who + ": source_sessions limit reached");
          break;
        case metric::rejected_source_rate:
          log::info(who + ": source_connect_rate limit reached");
          break;
        default:
          log::debug(who + ": max_clients reached");
          break;
      }
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
