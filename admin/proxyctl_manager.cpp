#include "admin/proxyctl_manager.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <vector>

#include "admin/proxyctl_cluster.hpp"

namespace px::proxyctl {

namespace {

namespace mgr = admin::manager;

/// How long `reload` waits for its reply at least (the proxy's session
/// waits 60 s for the outcome, see admin/manager_reload.hpp).
constexpr int reload_reply_ms = 65000;

/// The command as the user typed it ("users del"), for messages.
std::string what(const options& opt) {
  auto out = opt.command[0];
  if (out == "users" && opt.command.size() > 1)
    out += " " + opt.command[1];
  return out;
}

/// Step 1: the request the command asks for; prints why there is none.
std::optional<mgr::request> make_request(const std::vector<std::string>& cmd) {
  mgr::request req;
  if (cmd[0] == "users" && cmd.size() == 3 && cmd[1] == "add") {
    req.cmd = static_cast<uint8_t>(mgr::cmd::add_user);
    req.user.user = cmd[2];
  } else if (cmd[0] == "users" && cmd.size() == 3 && cmd[1] == "del") {
    req.cmd = static_cast<uint8_t>(mgr::cmd::del_user);
    req.user.user = cmd[2];
  } else if (cmd[0] == "users" && cmd.size() == 3 && cmd[1] == "passwd") {
    req.cmd = static_cast<uint8_t>(mgr::cmd::passwd);
    req.user.user = cmd[2];
  } else if (cmd[0] == "users" && cmd.size() == 2 && cmd[1] == "list") {
    req.cmd = static_cast<uint8_t>(mgr::cmd::list_users);
  } else if (cmd[0] == "users" && (cmd.size() == 2 || cmd.size() == 3)
             && cmd[1] == "stats") {
    req.cmd = static_cast<uint8_t>(mgr::cmd::user_stats);
    req.user.user = cmd.size() == 3 ? cmd[2] : std::string{};
  } else if (cmd[0] == "manager-metrics" && cmd.size() == 1) {
    req.cmd = static_cast<uint8_t>(mgr::cmd::metrics);
  } else if (cmd[0] == "max-clients" && cmd.size() == 2) {
    // The command line checked the range already.
    req.cmd = static_cast<uint8_t>(mgr::cmd::max_clients);
    req.max_clients = static_cast<uint32_t>(std::stoul(cmd[1]));
  } else if (cmd[0] == "reload" && cmd.size() == 1) {
    req.cmd = static_cast<uint8_t>(mgr::cmd::reload);
  } else if (cmd[0] == "cluster" && cmd.size() == 2 && cmd[1] == "metrics") {
    req.cmd = static_cast<uint8_t>(mgr::cmd::cluster_metrics);
  } else {
    std::cerr << "proxyctl: use 'users add|del|passwd NAME', 'users list', "
                 "'users stats [NAME]', 'manager-metrics', 'max-clients N' or "
                 "'reload'\n";
    return std::nullopt;
  }
  return req;
}

/// Whether `cmd` names a user (add, del, passwd).
bool names_user(uint8_t cmd) {
  return cmd == static_cast<uint8_t>(mgr::cmd::add_user)
         || cmd == static_cast<uint8_t>(mgr::cmd::del_user)
         || cmd == static_cast<uint8_t>(mgr::cmd::passwd);
}

/// Step 2 of `users add` and `users passwd`: the new password, after the
/// admin's (`users del`: none); prints why the name or the password is
/// unusable.
bool read_new_password(mgr::request& req) {
  bool del = req.cmd == static_cast<uint8_t>(mgr::cmd::del_user);
  if (!del)
    req.user.password = read_password("PROXYCTL_NEW_PASSWORD", "new password: ");
  if (req.user.user.empty() || req.user.user.size() > 255
      || (!del && (req.user.password.empty() || req.user.password.size() > 255))) {
    std::cerr << "proxyctl: user name and password must be 1-255 bytes\n";
    return false;
  }
  return true;
}

/// Step 3: the login message and its reply (left in `in`).
int log_in(net::sctp_client& client, const mgr::credentials& admin,
           std::vector<uint8_t>& in, int timeout_ms) {
  if (!exchange(client, mgr::encode_login(admin), in, timeout_ms))
    return exit_transport;
  if (in.size() != 2 || in[0] != mgr::version) {
    std::cerr << "proxyctl: login: malformed reply from the proxy\n";
    return exit_transport;
  }
  if (in[1] != 0) {
    std::cerr << "proxyctl: login: "
              << mgr::to_string(static_cast<mgr::status>(in[1])) << "\n";
    return exit_auth;
  }
  return exit_ok;
}

/// `users list`: one name a line, or a JSON array.
void print_names(const std::vector<std::string>& names, bool json) {
  if (!json) {
    for (auto& n : names)
      std::cout << n << "\n";
    return;
  }
  std::cout << json_array(names) << "\n";
}

/// `manager-metrics`: three lines, or a JSON object.
void print_metrics(const mgr::metrics_values& v, bool json) {
  if (json)
    std::cout << json_object({{"historical", v.historical},
                              {"active", v.active},
                              {"bytes", v.bytes}})
              << "\n";
  else
    std::cout << "historical   " << v.historical << "\nactive       "
              << v.active << "\nbytes        " << v.bytes << "\n";
}

/// `reload`: the outcome line (on standard error when it failed), or a JSON
/// object; the exit code.
int print_reload(const std::vector<uint8_t>& in, bool json) {
  auto r = mgr::parse_reload_reply(in.data(), in.size());
  if (!r)
    return manager_fail(in, "reload");
  bool ok = r->st == mgr::status::ok;
  if (json)
    std::cout << json_object({{"ok", ok}, {"status", mgr::to_string(r->st)},
                              {"message", r->text}})
              << "\n";
  else if (ok)
    std::cout << r->text << "\n";
  else
    std::cerr << "proxyctl: reload: " << mgr::to_string(r->st) << ": "
              << r->text << "\n";
  return ok ? exit_ok : exit_refused;
}

/// One line per user (or a JSON array): counters, then the limits in
/// force (0: none).
void print_user_stats(const std::vector<mgr::user_counters>& users, bool json) {
  if (json) {
    std::string out = "[";
    for (auto& u : users)
      out += (out.size() > 1 ? ", " : "")
             + json_object({{"user", u.name},
                            {"open", u.open},
                            {"connections", u.connections},
                            {"bytes_up", u.bytes_up},
                            {"bytes_down", u.bytes_down},
                            {"refused_sessions", u.refused_sessions},
                            {"refused_rate", u.refused_rate},
                            {"max_sessions", u.max_sessions},
                            {"connect_rate", u.connect_rate},
                            {"bandwidth_up", u.bandwidth_up},
                            {"bandwidth_down", u.bandwidth_down}});
    std::cout << out << "]\n";
    return;
  }
  for (auto& u : users)
    std::cout << u.name << ": open " << u.open << ", connections " << u.connections
              << ", up " << u.bytes_up << " B, down " << u.bytes_down
              << " B, refused " << u.refused_sessions << " (sessions) "
              << u.refused_rate << " (rate); limits sessions " << u.max_sessions
              << ", rate " << u.connect_rate << "/s, up " << u.bandwidth_up
              << " B/s, down " << u.bandwidth_down << " B/s\n";
}

/// Step 5: the reply `in` to `req`, printed; returns the exit code.
int print_reply(const options& opt, const mgr::request& req,
                const std::vector<uint8_t>& in) {
  switch (static_cast<mgr::cmd>(req.cmd)) {
    case mgr::cmd::add_user:
    case mgr::cmd::del_user:
    case mgr::cmd::passwd:
    case mgr::cmd::max_clients:
      if (in.size() != 3 || in[0] != mgr::version || in[1] != req.cmd || in[2] != 0)
        return manager_fail(in, what(opt).c_str());
      print_ok(opt);
      return exit_ok;
    case mgr::cmd::list_users: {
      auto names = mgr::parse_list_reply(in.data(), in.size());
      if (!names)
        return manager_fail(in, "users list");
      print_names(*names, opt.json);
      return exit_ok;
    }
    case mgr::cmd::metrics: {
      auto v = mgr::parse_metrics_reply(in.data(), in.size());
      if (!v)
        return manager_fail(in, "manager-metrics");
      print_metrics(*v, opt.json);
      return exit_ok;
    }
    case mgr::cmd::reload:
      return print_reload(in, opt.json);
    case mgr::cmd::user_stats: {
      auto v = mgr::parse_user_stats_reply(in.data(), in.size());
      if (!v)
        return manager_fail(in, "users stats");
      print_user_stats(*v, opt.json);
      return exit_ok;
    }
    case mgr::cmd::cluster_metrics:
      return print_cluster_metrics(in, opt.json);
    case mgr::cmd::cluster_setting:
      return print_cluster_setting(in, opt.json);
  }
  return exit_transport;
}

} // namespace

bool is_manager_command(const std::string& name) {
  return name == "users" || name == "manager-metrics" || name == "max-clients"
         || name == "reload" || name == "cluster";
}

int run_manager(const options& opt) {
  auto server = server_address(opt, opt.manager_port);
  if (!server)
    return exit_usage;
  auto req = is_cluster_setting(opt) ? cluster_setting_request(opt.command)
                                     : make_request(opt.command);
  if (!req)
    return exit_usage;
  auto user = admin_user(opt);
  if (user.size() > 255) {
    std::cerr << "proxyctl: user name too long\n";
    return exit_usage;
  }
  auto password = read_password();
  if (names_user(req->cmd) && !read_new_password(*req))
    return exit_usage;
  auto client = connect(opt, *server);
  if (!client)
    return exit_transport;
  std::vector<uint8_t> in;
  if (auto rc = log_in(*client, {user, password}, in, opt.timeout_ms); rc != exit_ok)
    return rc;
  // Step 4: the request (a reload may take a while).
  auto wait_ms = opt.timeout_ms;
  if (req->cmd == static_cast<uint8_t>(mgr::cmd::reload))
    wait_ms = std::max(wait_ms, reload_reply_ms);
  if (!exchange(*client, mgr::encode_request(*req), in, wait_ms))
    return exit_transport;
  return print_reply(opt, *req, in);
}

} // namespace px::proxyctl
