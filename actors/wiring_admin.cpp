// The proxy's admin plane: the SCTP transport (kernel or over UDP), SPCP
// and the Manager protocol listening on it, one session actor per
// association (actors/proxy_program.hpp).
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/proxy_program.hpp"
#include "admin/admin_session.hpp"
#include "admin/codec.hpp"
#include "net/log.hpp"

namespace px {

namespace {

/// Opens the admin plane's SCTP transport as configured.
std::unique_ptr<net::sctp_transport>
open_admin_transport(const config::proxy_config& cfg, std::string& err) {
  using t = config::admin_transport;
  if (cfg.transport == t::kernel)
    return net::make_kernel_sctp(admin::max_admin_message, err);
  if (cfg.transport == t::automatic && net::kernel_sctp_available())
    return net::make_kernel_sctp(admin::max_admin_message, err);
  return net::make_udp_sctp(cfg.udp_port, admin::max_admin_message, err);
}

/// How the admin plane listens, for the log: "kernel SCTP)" or "SCTP over
/// UDP port N)", with the reason when transport = auto chose it.
std::string describe_transport(const config::proxy_config& cfg,
                               const net::sctp_transport& tx) {
  std::string how = tx.kind() == std::string{"kernel"}
                      ? "kernel SCTP"
                      : "SCTP over UDP port " + std::to_string(cfg.udp_port);
  how += cfg.transport == config::admin_transport::automatic
           ? ", chosen by transport = auto)"
           : ")";
  return how;
}

/// The admin plane's events for `proto`: one `session_fn` actor per
/// association.
template <class SessionFn>
std::shared_ptr<net::sctp_events> admin_events(const char* proto,
                                               caf::actor_system& sys,
                                               admin_deps deps,
                                               SessionFn session_fn) {
  return make_admin_events(proto, [&sys, deps, session_fn](net::assoc_id id,
                                                          net::ip_endpoint peer) {
    return sys.spawn(session_fn, id, peer, deps);
  });
}

} // namespace

bool proxy_program::listen_admin(const char* proto, const net::ip_endpoint& addr,
                                 std::shared_ptr<net::sctp_events> ev,
                                 const std::string& how,
                                 std::vector<std::string>& lines) {
  auto res = admin_tx_->listen(addr, std::move(ev));
  if (auto e = std::get_if<std::string>(&res)) {
    log::error("admin plane: " + *e);
    return false;
  }
  lines.push_back(std::string{proto} + " listening on " + addr.to_string()
                  + " (" + how);
  return true;
}

bool proxy_program::start_admin_plane() {
  if (!cfg_.spcp_listen && !cfg_.manager_listen)
    return true;
  std::string err;
  admin_tx_ = open_admin_transport(cfg_, err);
  if (!admin_tx_) {
    log::error("admin plane: " + err);
    return false;
  }
  admin_deps adeps{admin_tx_.get(), registry_, metrics_, settings_,
                   sys_->spawn(login_guard), reloads_, cluster_};
  auto how = describe_transport(cfg_, *admin_tx_);
  std::vector<std::string> lines;
  bool ok = !cfg_.spcp_listen
            || listen_admin("SPCP", *cfg_.spcp_listen,
                            admin_events("SPCP", *sys_, adeps, spcp_session),
                            how, lines);
  ok = ok
       && (!cfg_.manager_listen
           || listen_admin("Manager", *cfg_.manager_listen,
                           admin_events("Manager", *sys_, adeps, manager_session),
                           how, lines));
  if (!ok) {
    admin_tx_.reset();
    return false;
  }
  admin_tx_->start();
  for (auto& l : lines)
    log::info(l);
  return true;
}

void proxy_program::stop_admin() {
  if (admin_tx_)
    admin_tx_->stop();
}

} // namespace px
