#include "actors/acceptor.hpp"

#include <chrono>
#include <utility>

#include <caf/all.hpp>

#include "net/log.hpp"

namespace px {

void acceptor_state::publish(acceptor_actor::pointer self) const {
  desk->publish(admission_policy::make(settings, logins, self));
}

namespace {

/// An access-log line for a client refused at a limit of its address (it
/// never had a session to write one).
void log_refusal(acceptor_actor::stateful_pointer<acceptor_state> self,
                 const net::ip_endpoint& peer, const char* result) {
  auto& log = self->state.desk->deps().access_log;
  if (!log)
    return;
  access_record rec;
  rec.start_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  rec.client = peer.to_string();
  rec.user = "-";
  rec.destination = "-";
  rec.result = result;
  self->send(log, std::move(rec));
}

} // namespace

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
          log_refusal(self, msg.peer, "source-sessions");
          break;
        case metric::rejected_source_rate:
          log::info(who + ": source_connect_rate limit reached");
          log_refusal(self, msg.peer, "source-rate");
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
