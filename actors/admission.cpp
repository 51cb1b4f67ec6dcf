// Runs on the reactor's loop threads: never block here (see admission.hpp).
#include "actors/admission.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include <caf/all.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "net/log.hpp"

namespace px {

// -- the verified-login check (loop threads) ----------------------------------

std::array<uint8_t, 32> login_digest(const std::array<uint8_t, 32>& key,
                                     const std::string& user,
                                     const std::string& password) {
  std::array<uint8_t, 32> out{};
  auto ctx = EVP_MD_CTX_new();
  unsigned len = 0;
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, key.data(), key.size());
  EVP_DigestUpdate(ctx, user.data(), user.size());
  EVP_DigestUpdate(ctx, "\0", 1);
  EVP_DigestUpdate(ctx, password.data(), password.size());
  EVP_DigestFinal_ex(ctx, out.data(), &len);
  EVP_MD_CTX_free(ctx);
  return out;
}

bool verified_logins::check(const std::string& user, const std::string& password,
                            uint8_t role) const {
  auto i = users.find(user);
  if (i == users.end() || (i->second.roles & role) == 0)
    return false;
  auto d = login_digest(key, user, password);
  return CRYPTO_memcmp(d.data(), i->second.digest.data(), d.size()) == 0;
}

// -- the session's handler (loop threads) -------------------------------------

namespace {

using namespace std::chrono;

/// Sends reactor events for one connection to its session actor. Runs on
/// the connection's loop thread only.
class session_handler : public net::conn_handler {
public:
  session_handler(caf::actor dst, std::weak_ptr<const verified_logins> logins,
                  std::shared_ptr<const account_board> accounts)
    : dst_(std::move(dst)), logins_(std::move(logins)), accounts_(std::move(accounts)) {
    // nop
  }

  bool on_credentials(net::conn_id, socks5::credentials creds,
                      net::login_grant& grant) override {
    // A returning user: checked against the registry's published value
    // (keyed SHA-256, microseconds). The weak reference expires when a
    // reload publishes a new value, and an account refuses a value older
    // than the user's last delete or password change, so neither a removed
    // user nor an old password slips through: the registry checks those
    // (and denies them). The user's limits apply here too.
    uint8_t limited = 0;
    if (auto logins = logins_.lock();
        logins && logins->check(creds.user, creds.password, config::role_socks)) {
      auto got = grant_login(accounts_.get(), creds.user, logins->epoch, grant);
      if (got == login_check::granted) {
        user_ = std::move(creds.user);
        return true;
      }
      if (got != login_check::stale)
        limited = static_cast<uint8_t>(got);
    }
    caf::anon_send(dst_, conn_credentials{std::move(creds), limited});
    return false;
  }

  void on_request(net::conn_id, socks5::request req) override {
    caf::anon_send(dst_, conn_request{std::move(req)});
  }

  void on_handshake_failed(net::conn_id, net::handshake_stage stage,
                           socks5::codec_error err) override {
    caf::anon_send(dst_, conn_handshake_failed{stage, err});
  }

  void on_connected(net::conn_id, net::ip_endpoint local,
                    net::ip_endpoint remote) override {
    caf::anon_send(dst_, conn_connected{local, remote});
  }

  void on_bound(net::conn_id, net::ip_endpoint local) override {
    caf::anon_send(dst_, conn_bound{local});
  }

  void on_connect_failed(net::conn_id, net::connect_error err) override {
    caf::anon_send(dst_, conn_failed{err});
  }

  void on_closed(net::conn_id, net::close_stats stats) override {
    caf::anon_send(dst_, conn_closed{std::move(stats), std::move(user_)});
  }

private:
  caf::actor dst_;
  std::weak_ptr<const verified_logins> logins_;
  /// The users' accounts (null: none, logins carry no limits).
  std::shared_ptr<const account_board> accounts_;
  /// The login granted here (reported with the close).
  std::string user_;
};

} // namespace

// -- session census (loop threads count, CAF threads end, main waits) --------

void session_census::spawned() {
  spawned_.fetch_add(1);
}

void session_census::ended() {
  ended_.fetch_add(1);
  // The waiter tests live() under the mutex: taking it once here, after
  // the increment, means a waiter either sees the new count or is already
  // waiting and gets the notification.
  { std::lock_guard<std::mutex> guard{mtx_}; }
  cv_.notify_all();
}

uint64_t session_census::live() const {
  auto ended = ended_.load();
  auto spawned = spawned_.load();
  return spawned > ended ? spawned - ended : 0;
}

bool session_census::wait_until_none(
  std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> guard{mtx_};
  return cv_.wait_until(guard, deadline, [this] { return live() == 0; });
}

std::shared_ptr<net::conn_handler>
start_session(caf::actor_system& sys, session_args args,
              std::weak_ptr<const verified_logins> logins,
              std::shared_ptr<session_census> census) {
  if (census)
    census->spawned();
  // Lazy: the session first runs when the reactor reports something it
  // must decide (or the close), not once more right now. The handshake
  // deadline is the reactor's (handshake_plan::deadline): no timer of CAF's
  // clock.
  auto accounts = args.deps.accounts;
  auto s = sys.spawn<caf::lazy_init>(session, std::move(args));
  if (census)
    s->attach_functor([census] { census->ended(); });
  return std::make_shared<session_handler>(std::move(s), std::move(logins),
                                           std::move(accounts));
}

// -- admission (loop threads) -------------------------------------------------

bool admission_policy::client_allowed(const net::ip_endpoint& peer) const {
  if (settings->allow_clients.empty())
    return true;
  return std::any_of(settings->allow_clients.begin(),
                     settings->allow_clients.end(),
                     [&](const net::cidr& block) { return block.contains(peer); });
}

std::shared_ptr<const admission_policy>
admission_policy::make(const session_settings& settings,
                       std::shared_ptr<const verified_logins> logins,
                       acceptor_actor acceptor) {
  auto p = std::make_shared<admission_policy>();
  p->plan = std::make_shared<const net::handshake_plan>(
    session_state::plan_for(settings));
  p->settings = std::make_shared<const session_settings>(settings);
  p->source_limits.sessions = settings.source_sessions;
  p->source_limits.connect_rate = settings.source_connect_rate;
  p->logins = std::move(logins);
  p->acceptor = std::move(acceptor);
  return p;
}

admission_desk::admission_desk(caf::actor_system& sys, session_deps deps)
  : sys_(sys), deps_(std::move(deps)) {
  // nop
}

void admission_desk::publish(std::shared_ptr<const admission_policy> p) {
  std::atomic_store(&policy_, std::move(p));
}

net::admission admission_desk::on_accepted(net::conn_id id, net::ip_endpoint peer,
                                           const net::ip_endpoint& listener) {
  net::admission out;
  out.what = net::admission::verdict::refuse;
  auto policy = std::atomic_load(&policy_);
  if (!policy) {
    log::error("admission before any policy was published: client refused");
    return out;
  }
  auto refuse = [&](metric reason) {
    if (policy->acceptor)
      caf::anon_send(policy->acceptor, client_refused{peer, reason});
    return out;
  };
  if (!policy->client_allowed(peer))
    return refuse(metric::rejected_client_rule);
  if (policy->source_limits.sessions != 0 || policy->source_limits.connect_rate != 0) {
    net::lease place;
    switch (sources_.enter(peer, policy->source_limits, net::limit_clock::now(), place)) {
      case net::limit_hit::sessions:
        return refuse(metric::rejected_source_sessions);
      case net::limit_hit::rate:
        return refuse(metric::rejected_source_rate);
      case net::limit_hit::none:
        break;
    }
    if (place)
      out.source = std::make_shared<net::lease>(std::move(place));
  }
  // Counted first, so that loops admitting at once never overshoot.
  auto n = admitted_.fetch_add(1, std::memory_order_relaxed) + 1;
  auto closed = deps_.io->owned_closed();
  if (n > closed && n - closed > policy->settings->max_clients) {
    admitted_.fetch_sub(1, std::memory_order_relaxed);
    return refuse(metric::rejected_max_clients);
  }
  session_args args;
  args.id = id;
  args.peer = peer;
  args.listener = listener;
  args.settings = policy->settings;
  args.deps = deps_;
  args.started = sys_.clock().now();
  args.started_unix_ms
    = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  out.what = net::admission::verdict::own;
  out.handler = start_session(sys_, std::move(args), policy->logins, census_);
  out.plan = policy->plan;
  return out;
}

} // namespace px
