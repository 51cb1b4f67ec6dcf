// Runs on loop threads and in actors: one atomic load, then atomics only
// (see accounts.hpp).
#include "actors/accounts.hpp"

namespace px {

account_board::account_board() : map_(std::make_shared<const account_map>()) {
  // nop
}

void account_board::publish(std::shared_ptr<const account_map> m) {
  std::atomic_store(&map_, std::move(m));
}

std::shared_ptr<const account_map> account_board::current() const {
  return std::atomic_load(&map_);
}

std::shared_ptr<net::account> account_board::find(const std::string& user) const {
  auto m = current();
  auto i = m->by_name.find(user);
  return i == m->by_name.end() ? nullptr : i->second;
}

login_check grant_login(const account_board* board, const std::string& user,
                        uint64_t epoch, net::login_grant& out) {
  out = {};
  if (board == nullptr)
    return login_check::granted;
  auto acct = board->find(user);
  if (!acct || acct->deleted.load() || acct->revoked_epoch.load() > epoch)
    return login_check::stale;
  net::lease place;
  switch (net::lease::enter(acct, net::limit_clock::now(), place)) {
    case net::limit_hit::sessions:
      return login_check::sessions;
    case net::limit_hit::rate:
      return login_check::rate;
    case net::limit_hit::none:
      break;
  }
  out.user = std::move(acct);
  out.session = std::make_shared<net::lease>(std::move(place));
  return login_check::granted;
}

const char* limit_result(login_check x) {
  switch (x) {
    case login_check::sessions:
      return "user-sessions";
    case login_check::rate:
      return "user-rate";
    default:
      return "";
  }
}

} // namespace px
