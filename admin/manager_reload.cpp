// The Manager session's reload command (admin/manager_reload.hpp). The
// session never reloads itself: the reload desk hands the request to the
// main thread (actors/reload_desk.hpp), where SIGHUP's reloads run too, and
// the outcome comes back as the desk's answer.
#include "admin/manager_reload.hpp"

#include <string>

#include <caf/all.hpp>

#include "net/log.hpp"

namespace px {

namespace mgr = admin::manager;

void request_reload(caf::stateful_actor<manager_state>* self,
                    std::function<void(std::vector<uint8_t>)> finish) {
  auto& s = self->state;
  if (!s.deps.reload) {
    finish(mgr::encode_reload_reply(mgr::status::server_error,
                                    "reload is not available"));
    return;
  }
  log::info("Manager: reload asked for by '" + s.user + "' from "
            + s.peer.to_string());
  self->request(s.deps.reload, reload_timeout, reload_atom_v)
    .await(
      [=](const reload_outcome& out) {
        finish(mgr::encode_reload_reply(out.ok ? mgr::status::ok
                                               : mgr::status::invalid_config,
                                        out.text));
      },
      [=](const caf::error& err) {
        auto why = err == caf::sec::request_timeout
                     ? "no outcome within " + std::to_string(reload_timeout.count())
                         + " s (the reload may still run)"
                     : "no outcome: " + caf::to_string(err);
        log::warning("Manager: reload: " + why);
        finish(mgr::encode_reload_reply(mgr::status::server_error, why));
      });
}

} // namespace px
