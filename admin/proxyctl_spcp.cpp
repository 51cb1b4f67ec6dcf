#include "admin/proxyctl_spcp.hpp"

#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace px::proxyctl {

namespace {

/// Says why the proxy refused `what`; returns exit_auth or exit_refused.
int fail_status(const admin::spcp_response& r, const char* what) {
  std::cerr << "proxyctl: " << what << ": " << spcp::to_string(r.status);
  if (!r.data.empty())
    std::cerr << " (" << r.data << ")";
  std::cerr << "\n";
  return r.status == spcp::status::auth_error ? exit_auth : exit_refused;
}

/// An SPCP association: one request and its reply at a time.
class session {
public:
  session(std::unique_ptr<net::sctp_client> c, int timeout_ms)
    : client_(std::move(c)), timeout_ms_(timeout_ms) {
    // nop
  }

  /// Sends one request; returns false (and prints why) on transport errors.
  bool call(spcp::cmd cmd, const std::vector<std::string>& args,
            admin::spcp_response& out) {
    auto msg = admin::encode_spcp_request(static_cast<uint8_t>(cmd), args);
    std::vector<uint8_t> in;
    if (!exchange(*client_, msg, in, timeout_ms_))
      return false;
    auto r = admin::parse_spcp_response(in.data(), in.size());
    if (!r) {
      std::cerr << "proxyctl: malformed reply from the proxy\n";
      return false;
    }
    out = *r;
    return true;
  }

  /// Sends one request the proxy should accept: exit_ok (the reply's data in
  /// `data`), exit_transport, or what fail_status makes of a refusal of
  /// `what`.
  int ask(spcp::cmd cmd, const std::vector<std::string>& args, const char* what,
          std::string* data = nullptr) {
    admin::spcp_response r;
    if (!call(cmd, args, r))
      return exit_transport;
    if (r.status != spcp::status::ok)
      return fail_status(r, what);
    if (data != nullptr)
      *data = r.data;
    return exit_ok;
  }

private:
  std::unique_ptr<net::sctp_client> client_;
  int timeout_ms_;
};

/// Step 1: USER, then PASS.
int log_in(session& s, const std::string& user, const std::string& password) {
  auto rc = s.ask(spcp::cmd::user, {user}, "login");
  return rc == exit_ok ? s.ask(spcp::cmd::pass, {password}, "login") : rc;
}

/// connections, bytes, accesses: one counter.
int show_counter(session& s, const options& opt) {
  const auto& name = opt.command[0];
  auto c = name == "connections" ? spcp::cmd::concurrent
           : name == "bytes"     ? spcp::cmd::bytes
                                 : spcp::cmd::historical;
  std::string value;
  if (auto rc = s.ask(c, {}, name.c_str(), &value); rc != exit_ok)
    return rc;
  if (opt.json)
    std::cout << json_object({{name, json_count(value)}}) << "\n";
  else
    std::cout << value << "\n";
  return exit_ok;
}

/// metrics: the three counters, asked one after the other.
int show_metrics(session& s, const options& opt) {
  std::string conns, bytes, accesses;
  auto rc = s.ask(spcp::cmd::concurrent, {}, "connections", &conns);
  if (rc == exit_ok)
    rc = s.ask(spcp::cmd::bytes, {}, "bytes", &bytes);
  if (rc == exit_ok)
    rc = s.ask(spcp::cmd::historical, {}, "accesses", &accesses);
  if (rc != exit_ok)
    return rc;
  if (opt.json)
    std::cout << json_object({{"connections", json_count(conns)},
                              {"bytes", json_count(bytes)},
                              {"accesses", json_count(accesses)}})
              << "\n";
  else
    std::cout << "connections  " << conns << "\nbytes        " << bytes
              << "\naccesses     " << accesses << "\n";
  return exit_ok;
}

/// transform: the active transformation.
int show_transform(session& s, const options& opt) {
  std::string value;
  if (auto rc = s.ask(spcp::cmd::get_transform, {}, "transform", &value);
      rc != exit_ok)
    return rc;
  if (opt.json)
    std::cout << json_object({{"transform", value}}) << "\n";
  else
    std::cout << (value.empty() ? "(none)" : value) << "\n";
  return exit_ok;
}

/// transform set CMD, transform off, buffer-size BYTES.
int change_setting(session& s, const options& opt) {
  const auto& cmd = opt.command;
  auto c = cmd[0] == "transform" ? spcp::cmd::set_transform : spcp::cmd::set_buffer;
  std::vector<std::string> args;
  if (cmd[0] == "buffer-size")
    args.push_back(cmd[1]);
  else if (cmd[1] == "set")
    args.push_back(cmd[2]);
  auto rc = s.ask(c, args, cmd[0].c_str());
  if (rc == exit_ok)
    print_ok(opt);
  return rc;
}

/// What a command leaves: its exit code, and whether QUIT follows (not after
/// a setter that failed in transport; queries that did still say QUIT).
struct outcome {
  int rc = exit_ok;
  bool quit = true;
};

/// Step 2: performs the command and prints its result.
outcome perform(session& s, const options& opt) {
  const auto& cmd = opt.command;
  const auto& name = cmd[0];
  if (name == "connections" || name == "bytes" || name == "accesses")
    return {show_counter(s, opt)};
  if (name == "metrics")
    return {show_metrics(s, opt)};
  if (name == "transform" && cmd.size() == 1)
    return {show_transform(s, opt)};
  if (name == "transform" || name == "buffer-size") {
    auto rc = change_setting(s, opt);
    return {rc, rc != exit_transport};
  }
  return {}; // check: nothing beyond the login
}

/// Step 3: QUIT. The command's exit code stays, unless QUIT fails after a
/// success.
int quit(session& s, int rc) {
  admin::spcp_response r;
  if (!s.call(spcp::cmd::quit, {}, r))
    return rc == exit_ok ? exit_transport : rc;
  return rc;
}

} // namespace

int run_spcp(const options& opt) {
  auto server = server_address(opt, opt.port);
  if (!server)
    return exit_usage;
  auto user = admin_user(opt);
  auto password = read_password();
  auto client = connect(opt, *server);
  if (!client)
    return exit_transport;
  session s{std::move(client), opt.timeout_ms};
  if (auto rc = log_in(s, user, password); rc != exit_ok)
    return rc;
  auto done = perform(s, opt);
  return done.quit ? quit(s, done.rc) : done.rc;
}

} // namespace px::proxyctl
