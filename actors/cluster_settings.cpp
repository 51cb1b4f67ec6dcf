// Part of the cluster actor (actors/cluster.hpp): settings operators expect
// to be cluster-wide (max clients, buffer size, the transformation),
// applied from one node (`proxyctl --cluster ...`). Each node applies them
// through its own settings actor, the one owner of runtime settings; the
// node asked over the admin plane asks every connected peer (1 s each) and
// names who applied, who refused and who did not answer.
#include <algorithm>
#include <memory>

#include <caf/all.hpp>

#include "actors/cluster.hpp"
#include "actors/fan_in.hpp"
#include "net/address.hpp"

namespace px {

namespace {

/// How long a node may take to apply a setting.
constexpr auto setting_timeout = std::chrono::seconds{1};

/// The status of a settings actor's answer.
uint8_t status_of(setting_change c) {
  switch (c) {
    case setting_change::applied:
      return static_cast<uint8_t>(node_setting::applied);
    case setting_change::out_of_range:
      return static_cast<uint8_t>(node_setting::out_of_range);
    case setting_change::disabled:
      return static_cast<uint8_t>(node_setting::disabled);
  }
  return static_cast<uint8_t>(node_setting::failed);
}

/// One request to every node in progress.
using applying_everywhere = fan_in<cluster_applied>;

} // namespace

void apply_setting(cluster_ptr self, uint8_t kind, const std::string& value,
                   caf::typed_response_promise<uint8_t> rp) {
  auto& settings = self->state.deps.settings;
  auto fail = static_cast<uint8_t>(node_setting::failed);
  auto range = static_cast<uint8_t>(node_setting::out_of_range);
  auto number = net::parse_decimal(value);
  if (!settings || kind < 1 || kind > 3 || (kind != 3 && !number)) {
    rp.deliver(settings ? range : fail);
    return;
  }
  auto on_error = [=](caf::error&) mutable { rp.deliver(fail); };
  if (kind == 1)
    self->request(settings, setting_timeout, maxcli_atom_v, uint64_t{*number})
      .then([=](bool ok) mutable { rp.deliver(ok ? uint8_t{0} : range); }, on_error);
  else if (kind == 2)
    self->request(settings, setting_timeout, buffer_atom_v, uint64_t{*number})
      .then([=](setting_change c) mutable { rp.deliver(status_of(c)); }, on_error);
  else
    self->request(settings, setting_timeout, transform_atom_v, value)
      .then([=](setting_change c) mutable { rp.deliver(status_of(c)); }, on_error);
}

void apply_setting_everywhere(cluster_ptr self, uint8_t kind, const std::string& value,
                              caf::typed_response_promise<cluster_applied> rp) {
  auto& st = self->state;
  auto g = std::make_shared<applying_everywhere>();
  g->rp = std::move(rp);
  for (auto& s : st.slots)
    if (!s.handle && !s.incoming
        && std::none_of(st.peers.begin(), st.peers.end(),
                        [&](auto& kv) { return kv.first == s.name; }))
      g->out.missing.push_back(s.name.empty() ? s.addr.text : s.name);
  auto targets = st.targets();
  g->waiting = targets.size() + 1;
  auto ask = [=](const caf::actor& who, std::string name, bool own) {
    self->request(who, setting_timeout * 2, nsetting_atom_v, kind, value)
      .then(
        [=](uint8_t status) {
          auto& n = g->out.nodes;
          n.insert(own ? n.begin() : n.end(), node_applied{name, status});
          g->done();
        },
        [=](caf::error&) {
          g->out.missing.push_back(name.empty() ? "unnamed peer" : name);
          g->done();
        });
  };
  ask(caf::actor_cast<caf::actor>(self), st.replica.self(), true);
  for (auto& h : targets)
    ask(h, st.name_of(h), false);
}

} // namespace px
