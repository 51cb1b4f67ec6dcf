// The hosts file (/etc/hosts) as a table in memory: read on first use and
// again only when the file changed (its size, time or inode, looked at no
// more than once a second), so a lookup costs no file read on the loop's
// thread. Names match without regard to case, as the resolver's do.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unordered_map>
#include <vector>

#include "net/address.hpp"

namespace px::net {

class hosts_table {
public:
  using clock = std::chrono::steady_clock;

  /// The addresses of one name, each family in file order (port 0).
  struct entry {
    std::vector<ip_endpoint> v4;
    std::vector<ip_endpoint> v6;
  };

  explicit hosts_table(std::string path = "/etc/hosts") : path_(std::move(path)) {
  }

  /// `name`'s addresses (null: not in the file, or no file).
  const entry* find(std::string_view name, clock::time_point now);

private:
  /// Reads the file again when it changed since the last read.
  void refresh(clock::time_point now);

  std::string path_;
  std::unordered_map<std::string, entry> names_;
  /// The file as last read (all zero: none yet, or no file).
  struct stat seen_ {};
  clock::time_point checked_{};
  bool loaded_ = false;
};

} // namespace px::net
