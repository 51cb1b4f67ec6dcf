// The cluster's merge rules as pure code (docs/cluster.md): one node's
// replica of every user's versioned entry. No actors, sockets or clocks: the
// cluster actor (actors/cluster.hpp) feeds it what peers send and what the
// registry holds, and sends on what it returns.
//
// Two maps: `confirmed` holds what the node's registry holds (and what
// USERS_FILE.cluster persists), `wanted` the entries from peers that won but
// that the registry has not applied yet. A version is (counter, origin):
// the greater counter wins, then the greater origin name.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "actors/cluster_messages.hpp"

namespace px {

/// True when `e` can be merged: a valid user name and origin node name,
/// and for a live user its roles and a hash the users file can hold (a
/// peer's entry that is not is dropped, never applied or saved).
bool well_formed(const cluster_entry& e);

/// True when `a` has a greater version than `b` (counter, then origin).
bool newer(const cluster_entry& a, const cluster_entry& b);

/// True when `a` and `b` say the same about the user (both deleted, or
/// both live with the same roles and hash), whatever their versions.
bool same_content(const cluster_entry& a, const cluster_entry& b);

/// One node's replica of the users' entries.
class cluster_replica {
public:
  /// An empty replica of node `self`.
  explicit cluster_replica(std::string self = {});

  /// This node's name.
  const std::string& self() const {
    return self_;
  }

  /// The Lamport clock: the greatest counter seen or made.
  uint64_t clock() const {
    return clock_;
  }

  /// The winning entry of `user` (wanted over confirmed), or null.
  const cluster_entry* current(const std::string& user) const;

  /// Merges an entry from a peer; true when it wins over what this node
  /// holds and must be applied by the registry (then it is wanted). An
  /// entry that wins with the content the registry already holds is
  /// confirmed at once (false), unless an apply of that user is in flight
  /// (the registry's content is about to change). Raises the clock either
  /// way.
  bool merge(const cluster_entry& e);

  /// The registry was asked to apply the wanted entry of `user`: until
  /// finish_apply, no other apply of it, and no shortcut in merge.
  void begin_apply(const std::string& user);

  /// The registry answered the apply of `e`: applied (`ok`, it is then
  /// confirmed unless something newer is) or not (it stays wanted). A
  /// newer wanted entry that came meanwhile stays wanted.
  void finish_apply(const cluster_entry& e, bool ok);

  /// An apply of `user` is in flight.
  bool applying(const std::string& user) const {
    return applying_.count(user) != 0;
  }

  /// Compares the users the registry holds with the confirmed entries:
  /// wanted entries the registry now holds become confirmed, and every
  /// other difference is a local change, versioned (clock + 1, this node)
  /// and returned for the peers. A wanted entry whose user still has its
  /// confirmed content stays wanted (its apply is on the way).
  std::vector<cluster_entry> observe(const std::vector<cluster_user>& users);

  /// Every winning entry (tombstones too), sorted by user.
  std::vector<cluster_entry> all() const;

  /// Entries waiting for the registry.
  const std::map<std::string, cluster_entry>& wanted() const {
    return wanted_;
  }

  /// Entries the registry holds.
  const std::map<std::string, cluster_entry>& confirmed() const {
    return confirmed_;
  }

  /// Number of live users among the winning entries.
  size_t live() const;

  /// A summary of all(): equal digests, equal winners (practically).
  cluster_digest digest() const;

  /// True once after every change of the confirmed entries or the clock
  /// (then they must be saved).
  bool take_dirty();

  /// The confirmed entries and the clock as text (USERS_FILE.cluster).
  std::string save() const;

  /// A replica of node `self` from `text` (see save); an error names the
  /// line.
  static std::variant<cluster_replica, std::string> load(std::string self,
                                                         const std::string& text);

private:
  std::string self_;
  uint64_t clock_ = 0;
  std::map<std::string, cluster_entry> confirmed_;
  std::map<std::string, cluster_entry> wanted_;
  /// Users whose apply the registry has not answered yet.
  std::set<std::string> applying_;
  bool dirty_ = false;
};

} // namespace px
