#include "actors/reloader.hpp"

#include <chrono>
#include <unistd.h>
#include <utility>
#include <variant>

#include <caf/all.hpp>

#include "actors/access_log.hpp"
#include "config/upstream_parse.hpp"
#include "config/config.hpp"
#include "config/reload.hpp"
#include "config/users.hpp"

namespace px {

namespace {

/// How long the reload waits for each actor's answer.
constexpr auto answer_timeout = std::chrono::seconds{10};

/// The access log's target and format in `cfg`.
access_log_spec log_spec(const config::proxy_config& cfg) {
  return {cfg.access_log, cfg.access_log_fmt};
}

/// Logs that `what` did not answer (the reload goes on with the rest).
void no_answer(const char* what, const caf::error& err) {
  log::warning(std::string{"reload: "} + what + " did not answer: "
               + caf::to_string(err));
}

} // namespace

log::level log_level_of(const std::string& name) {
  if (name == "error")
    return log::level::error;
  if (name == "warning")
    return log::level::warning;
  if (name == "debug")
    return log::level::debug;
  return log::level::info;
}

reloader::reloader(caf::actor_system& sys, config::proxy_config running,
                   reload_targets targets)
  : sys_(sys), running_(std::move(running)), targets_(std::move(targets)) {
  // nop
}

std::string reloader::read_files(config::proxy_config& next,
                                 std::vector<config::user_entry>& users,
                                 std::string& restart) {
  auto loaded = config::load(running_.path);
  if (auto err = std::get_if<std::string>(&loaded))
    return *err;
  auto plan = config::plan_reload(running_, std::get<config::proxy_config>(loaded));
  if (!plan.restart_needed.empty()) {
    restart = config::join(plan.restart_needed);
    log::warning("reload: restart needed to apply " + restart
                 + " (the running values stay)");
  }
  next = std::move(plan.next);
  if (!next.users_file.empty()) {
    auto read = config::load_users(next.users_file);
    if (auto err = std::get_if<std::string>(&read))
      return *err;
    users = std::get<std::vector<config::user_entry>>(std::move(read));
    if (auto err = config::check_user_vias(next, users, next.users_file))
      return *err;
  }
  // A log the proxy may not write fails here, as in --check.
  if (next.access_log != running_.access_log) {
    int fd = -1;
    if (auto err = open_access_log(next.access_log, fd); !err.empty())
      return err;
    if (fd > STDERR_FILENO)
      ::close(fd);
  }
  log::info("reloading " + running_.path
            + (plan.changed.empty() ? std::string{": no key changed"}
                                    : ": " + config::join(plan.changed)));
  return {};
}

void reloader::apply(const config::proxy_config& next,
                     std::vector<config::user_entry> users) {
  log::set_level(log_level_of(next.log_level));
  caf::scoped_actor self{sys_};
  // The registry first: it sends the acceptor the new logins before it
  // answers, so the settings' publish below comes after them.
  if (!next.users_file.empty())
    self->request(targets_.registry, answer_timeout, reload_atom_v, std::move(users))
      .receive([] {}, [](const caf::error& e) { no_answer("registry", e); });
  self->request(targets_.registry, answer_timeout, limits_atom_v, user_limits(next))
    .receive([] {}, [](const caf::error& e) { no_answer("registry", e); });
  if (targets_.accounts)
    targets_.accounts->set_per_user_metrics(next.per_user_metrics);
  self->request(targets_.settings, answer_timeout, reload_atom_v, make_settings(next))
    .receive([](bool) {}, [](const caf::error& e) { no_answer("settings", e); });
  if (targets_.access_log)
    self->request(targets_.access_log, answer_timeout, reopen_atom_v, log_spec(next))
      .receive([](const std::string&) {},
               [](const caf::error& e) { no_answer("access log", e); });
}

reload_outcome reloader::reload() {
  config::proxy_config next;
  std::vector<config::user_entry> users;
  std::string restart;
  if (auto err = read_files(next, users, restart); !err.empty()) {
    log::error("reload failed, keeping the running configuration and users: "
               + err);
    return {false, err};
  }
  apply(next, std::move(users));
  running_ = std::move(next);
  log::info("reloaded " + running_.path);
  auto text = "reloaded " + running_.path;
  if (!restart.empty())
    text += " (restart needed to apply " + restart + ")";
  return {true, text};
}

void reloader::reopen_access_log() {
  if (!targets_.access_log || running_.access_log == "-")
    return;
  caf::scoped_actor self{sys_};
  self->request(targets_.access_log, answer_timeout, reopen_atom_v,
                log_spec(running_))
    .receive(
      [&](const std::string& err) {
        if (err.empty())
          log::info("access log reopened: " + running_.access_log);
      },
      [](const caf::error& e) { no_answer("access log", e); });
}

} // namespace px
