// Writing a whole buffer to a blocking descriptor (a log, a file being
// saved): the retry loop every writer needs, once.
#pragma once

#include <cstddef>
#include <string_view>

namespace px::net {

/// Writes all of `data` to `fd`, retrying short writes and EINTR. False on
/// an error (errno set) or when the descriptor takes nothing.
bool write_all(int fd, std::string_view data);

} // namespace px::net
