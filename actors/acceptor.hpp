// The acceptor actor: owns the admission policy (allow_client, max_clients,
// the handshake plan, the registry's newest verified logins) and publishes
// it, as an immutable value, to the admission desk that applies it on the
// loop threads (actors/admission.hpp). Logs and counts refused clients.
#pragma once

#include <memory>

#include <caf/stateful_actor.hpp>

#include "actors/admission.hpp"
#include "actors/messages.hpp"

namespace px {

/// State of the acceptor.
struct acceptor_state {
  /// The actor's name (CAF uses it in logs and errors).
  static inline const char* name = "socks5.acceptor";

  /// The settings new sessions get.
  session_settings settings;
  /// The registry's newest verified logins.
  std::shared_ptr<const verified_logins> logins;
  /// Where the policy goes.
  std::shared_ptr<admission_desk> desk;

  /// Publishes the policy for `settings` and `logins` to the desk.
  void publish(acceptor_actor::pointer self) const;
};

/// The acceptor actor: owns the admission policy, logs and counts refused
/// clients. Its spawner publishes the initial policy itself
/// (admission_policy::make) before clients can come: an actor's first run is
/// asynchronous.
acceptor_actor::behavior_type
acceptor(acceptor_actor::stateful_pointer<acceptor_state> self,
         session_settings settings, std::shared_ptr<admission_desk> desk);

} // namespace px
