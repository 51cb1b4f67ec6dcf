#include "actors/cluster_wiring.hpp"

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "actors/cluster.hpp"
#include "net/log.hpp"

namespace px {

namespace {

/// Registers `T` for the middleman by its type name.
template <class T>
void announce(caf::actor_system_config& cfg) {
  cfg.add_message_type<T>(caf::type_name<T>::value);
}

/// The state file of `users_file`: its entries, or an error line.
std::variant<cluster_replica, std::string> load_state(const std::string& node,
                                                      const std::string& path) {
  if (path.empty())
    return cluster_replica{node};
  std::ifstream in{path};
  if (!in)
    return cluster_replica{node}; // first start: every user is new
  std::stringstream ss;
  ss << in.rdbuf();
  auto res = cluster_replica::load(node, ss.str());
  if (auto err = std::get_if<std::string>(&res))
    return path + ": " + *err;
  return res;
}

} // namespace

std::string check_cluster_tls(const config::cluster_config& c) {
  if (!c.tls())
    return {};
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_method()),
                                                   SSL_CTX_free};
  if (!ctx)
    return "cluster: cannot create a TLS context";
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), c.cert.c_str()) != 1)
    return c.cert + ": cannot load the cluster certificate (PEM)";
  std::unique_ptr<FILE, int (*)(FILE*)> f{fopen(c.key.c_str(), "r"), fclose};
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pk{
    f ? PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr) : nullptr, EVP_PKEY_free};
  if (!pk)
    return c.key + ": cannot load the cluster key (PEM, unencrypted)";
  if (SSL_CTX_use_PrivateKey(ctx.get(), pk.get()) != 1
      || SSL_CTX_check_private_key(ctx.get()) != 1)
    return c.key + ": the key does not match " + c.cert;
  if (SSL_CTX_load_verify_locations(ctx.get(), c.ca.c_str(), nullptr) != 1)
    return c.ca + ": cannot load the cluster CA (PEM)";
  return {};
}

void prepare_cluster(caf::actor_system_config& sys_cfg,
                     const config::cluster_config& c) {
  sys_cfg.load<caf::io::middleman>();
  if (c.tls()) {
    sys_cfg.load<caf::openssl::manager>();
    sys_cfg.set("openssl.certificate", c.cert);
    sys_cfg.set("openssl.key", c.key);
    sys_cfg.set("openssl.cafile", c.ca);
  }
  // A dead peer or a cut link is noticed within connection-timeout.
  sys_cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::milliseconds{250}});
  sys_cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::milliseconds{1500}});
  sys_cfg.set("middleman.app-identifiers",
              std::vector<std::string>{"socks5-proxy-cluster"});
  announce<cluster_entry>(sys_cfg);
  announce<cluster_hello>(sys_cfg);
  announce<cluster_delta>(sys_cfg);
  announce<cluster_digest>(sys_cfg);
  announce<node_metrics>(sys_cfg);
}

std::variant<caf::actor, std::string>
start_cluster(caf::actor_system& sys, const config::cluster_config& c,
              const cluster_links& links) {
  auto path = links.users_file.empty() ? std::string{} : links.users_file + ".cluster";
  auto loaded = load_state(c.name, path);
  if (auto err = std::get_if<std::string>(&loaded))
    return *err;
  cluster_deps deps;
  deps.listen = c.listen->to_string();
  deps.peers = c.peers;
  deps.registry = links.registry;
  deps.metrics = links.metrics;
  deps.settings = links.settings;
  deps.persist = links.persist;
  deps.state_path = path;
  deps.mm = c.tls() ? sys.openssl_manager().actor_handle()
                    : sys.middleman().actor_handle();
  deps.replica = std::get<cluster_replica>(std::move(loaded));
  auto self = sys.spawn(cluster, std::move(deps));
  auto host = c.listen->host_string();
  auto port = c.listen->port;
  auto res = c.tls() ? caf::openssl::publish(self, port, host.c_str(), true)
                     : sys.middleman().publish(self, port, host.c_str(), true);
  if (!res) {
    caf::anon_send_exit(self, caf::exit_reason::user_shutdown);
    return "cluster: cannot listen on " + c.listen->to_string() + ": "
           + sys.render(res.error());
  }
  log::info("cluster: node " + c.name + " listening on " + c.listen->to_string()
            + (c.tls() ? " (TLS)" : " (no TLS, loopback)") + ", "
            + std::to_string(c.peers.size()) + " peers");
  return self;
}

} // namespace px
