#include "actors/hasher.hpp"

#include <string>

#include <caf/all.hpp>

#include "config/users.hpp"

namespace px {

hasher_actor::behavior_type hasher(hasher_actor::pointer) {
  return {
    [](verify_atom, const std::string& password, const std::string& hash) {
      return config::verify_password(password, hash);
    },
    [](hash_atom, const std::string& password) {
      return config::hash_password(password).value_or(std::string{});
    },
  };
}

} // namespace px
