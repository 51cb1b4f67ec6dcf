#include "net/reactor/hosts_table.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace px::net {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

bool same_file(const struct stat& x, const struct stat& y) {
  return x.st_ino == y.st_ino && x.st_size == y.st_size
         && x.st_mtim.tv_sec == y.st_mtim.tv_sec && x.st_mtim.tv_nsec == y.st_mtim.tv_nsec;
}

} // namespace

void hosts_table::refresh(clock::time_point now) {
  if (loaded_ && now - checked_ < std::chrono::seconds{1})
    return;
  checked_ = now;
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0)
    st = {}; // no file: no names
  if (loaded_ && same_file(st, seen_))
    return;
  loaded_ = true;
  seen_ = st;
  names_.clear();
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    line.erase(std::min(line.find('#'), line.size()));
    std::istringstream words(line);
    std::string addr;
    std::string name;
    if (!(words >> addr))
      continue;
    auto ip = ip_endpoint::parse(addr, 0); // a scoped fe80::1%eth0 is skipped
    if (!ip)
      continue;
    while (words >> name) {
      auto& e = names_[lower(name)];
      auto& list = ip->v6 ? e.v6 : e.v4;
      if (std::find(list.begin(), list.end(), *ip) == list.end())
        list.push_back(*ip);
    }
  }
}

const hosts_table::entry* hosts_table::find(std::string_view name, clock::time_point now) {
  refresh(now);
  auto i = names_.find(lower(name));
  return i == names_.end() ? nullptr : &i->second;
}

} // namespace px::net
