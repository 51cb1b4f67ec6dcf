#include "actors/persister.hpp"

#include <string>

#include <caf/all.hpp>

#include "config/users.hpp"

namespace px {

persister_actor::behavior_type persister(persister_actor::pointer) {
  return {
    [](write_atom, const std::string& path, const std::string& contents) {
      return config::write_file_atomically(path, contents).value_or(std::string{});
    },
  };
}

} // namespace px
