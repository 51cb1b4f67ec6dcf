// The reload (SIGHUP, or the Manager protocol's reload command through the
// reload desk) and the access log reopen (SIGUSR1), run on the main thread,
// which waits for signals and reload requests and may block. A reload reads the config
// file and the users file again and checks them whole (what --check checks)
// before anything changes: when either is invalid, the error is logged as
// one line (FILE:LINE: ...) and the running configuration stays. Otherwise
// the new values go to the actors that own them, as messages (the settings
// actor, which hands them to the acceptor; the registry; the access log),
// and the reload waits for each to answer, so that READY=1 after it means
// new clients get the new rules. Keys that need a restart are named in one
// warning and keep their running values (config/reload.hpp).
#pragma once

#include <string>

#include <caf/fwd.hpp>

#include "actors/accounts.hpp"
#include "actors/messages.hpp"
#include "config/proxy_config.hpp"
#include "net/log.hpp"

namespace px {

/// The log level named in the config (info when unknown).
log::level log_level_of(const std::string& name);

/// What a reload changes: the actors that own the reloadable state.
struct reload_targets {
  /// Owns the session settings (rules, limits, timeouts).
  settings_actor settings;
  /// Owns the users.
  registry_actor registry;
  /// Writes the access log (null when it is off).
  access_log_actor access_log;
  /// The users' accounts: whether /metrics lists every user.
  std::shared_ptr<account_board> accounts;
};

/// Reloads on SIGHUP and reopens the access log on SIGUSR1; keeps the
/// configuration in force. Main thread only.
class reloader {
public:
  /// A reloader for a proxy running with `running`.
  reloader(caf::actor_system& sys, config::proxy_config running,
           reload_targets targets);

  /// SIGHUP or the admin plane: rereads and applies the config file, the
  /// users file and the access log; returns the one-line outcome (the
  /// error, FILE:LINE: ..., when a file is invalid).
  reload_outcome reload();

  /// SIGUSR1: opens the access log file anew (after logrotate renamed it).
  void reopen_access_log();

  /// The configuration in force.
  const config::proxy_config& running() const {
    return running_;
  }

private:
  /// Reads and checks the files; the error when one is invalid (empty:
  /// valid). `restart` names the changed keys that need a restart.
  std::string read_files(config::proxy_config& next,
                         std::vector<config::user_entry>& users,
                         std::string& restart);

  /// Sends the new values to their owners and waits for the answers.
  void apply(const config::proxy_config& next,
             std::vector<config::user_entry> users);

  caf::actor_system& sys_;
  config::proxy_config running_;
  reload_targets targets_;
};

} // namespace px
