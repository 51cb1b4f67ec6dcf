// Shared by the fuzz targets: the invariant check that stops the fuzzer, and
// helpers for whole-message codecs and line-based text files.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

/// Stops the fuzzer (libFuzzer then saves the input) when `cond` is false.
#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__,        \
                   __LINE__, #cond);                                           \
      std::abort();                                                            \
    }                                                                          \
  } while (false)

namespace px::fuzz {

using bytes = std::vector<uint8_t>;

/// Runs every check on one input.
template <class... Checks>
void check_all(const uint8_t* data, size_t size, Checks... checks) {
  (checks(data, size), ...);
}

// -- whole messages (SCTP: one message per parse) -----------------------------

/// Checks that a parser of whole messages that accepted `data` rejects it one
/// byte shorter and with one byte more: each length field must account for
/// every byte. `accepts(buf, n)` says whether the parser takes buf[0, n).
template <class Accepts>
void check_exact_length(const uint8_t* data, size_t size, Accepts accepts) {
  bytes copy(data, data + size);
  copy.push_back(0);
  FUZZ_CHECK(!accepts(copy.data(), size - 1));
  FUZZ_CHECK(!accepts(copy.data(), size + 1));
}

/// True when `encoded` is exactly data[0, size).
inline bool same_bytes(const bytes& encoded, const uint8_t* data, size_t size) {
  return encoded.size() == size && std::equal(encoded.begin(), encoded.end(), data);
}

// -- text files ---------------------------------------------------------------

/// Lines std::getline yields for `text` (a last line without '\n' counts).
inline int count_lines(const std::string& text) {
  int n = 0;
  for (char c : text)
    n += c == '\n';
  if (!text.empty() && text.back() != '\n')
    ++n;
  return n;
}

/// The first `n` lines of `text`, each with its '\n'.
inline std::string first_lines(const std::string& text, int n) {
  size_t end = 0;
  for (int i = 0; i < n && end < text.size(); ++i) {
    auto nl = text.find('\n', end);
    end = nl == std::string::npos ? text.size() : nl + 1;
  }
  return text.substr(0, end);
}

/// The line number of an error "PATH:LINE: ...", nothing for "PATH: ...";
/// stops the fuzzer when the error names neither form.
inline std::optional<int> error_line(const std::string& error, const std::string& path) {
  FUZZ_CHECK(error.compare(0, path.size(), path) == 0);
  FUZZ_CHECK(error.find('\n') == std::string::npos); // one line
  auto rest = error.substr(path.size());
  if (rest.compare(0, 2, ": ") == 0)
    return std::nullopt;
  FUZZ_CHECK(rest.size() > 1 && rest[0] == ':');
  auto colon = rest.find(": ", 1);
  FUZZ_CHECK(colon != std::string::npos && colon > 1 && colon < 12);
  int line = 0;
  for (size_t i = 1; i < colon; ++i) {
    FUZZ_CHECK(rest[i] >= '0' && rest[i] <= '9');
    line = line * 10 + (rest[i] - '0');
  }
  return line;
}

/// Checks what every line-by-line file parser must do with `text`: an error
/// names a line that exists, and comes from that line or an earlier one, so
/// parsing only the lines up to it gives the same error. `parse(text)`
/// returns the error text or nothing.
template <class Parse>
void check_line_error(const std::string& text, const std::string& path,
                      const std::optional<std::string>& error, Parse parse) {
  if (!error)
    return;
  auto line = error_line(*error, path);
  if (!line)
    return;
  FUZZ_CHECK(*line >= 1 && *line <= count_lines(text));
  FUZZ_CHECK(parse(first_lines(text, *line)) == error);
}

} // namespace px::fuzz
