// Runs on loop threads and in the registry: the lock guards map updates
// only (see user_sessions.hpp).
#include "actors/user_sessions.hpp"

namespace px {

bool user_sessions::admit(const std::string& user, net::conn_id id,
                          uint64_t epoch) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = revoked_.find(user); i != revoked_.end() && i->second > epoch)
    return false;
  by_user_[user].insert(id);
  by_id_[id] = user;
  return true;
}

void user_sessions::remove(net::conn_id id) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = by_id_.find(id);
  if (i == by_id_.end())
    return;
  if (auto j = by_user_.find(i->second); j != by_user_.end()) {
    j->second.erase(id);
    if (j->second.empty())
      by_user_.erase(j);
  }
  by_id_.erase(i);
}

size_t user_sessions::revoke(const std::string& user, uint64_t epoch,
                             bool close) {
  std::vector<net::conn_id> ids;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& at = revoked_[user];
    at = std::max(at, epoch);
    if (!close)
      return 0;
    if (auto j = by_user_.find(user); j != by_user_.end()) {
      ids.assign(j->second.begin(), j->second.end());
      for (auto id : ids)
        by_id_.erase(id);
      by_user_.erase(j);
    }
  }
  if (io_ != nullptr)
    for (auto id : ids)
      io_->close(id);
  return ids.size();
}

size_t user_sessions::count(const std::string& user) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto j = by_user_.find(user);
  return j == by_user_.end() ? 0 : j->second.size();
}

} // namespace px
