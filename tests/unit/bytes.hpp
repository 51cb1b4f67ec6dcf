// Byte-string helpers the codec and engine tests share.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace px::test {

using bytes = std::vector<uint8_t>;

/// The parts one after the other.
inline bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

/// The characters of `s` as bytes.
inline bytes str(const std::string& s) {
  return bytes(s.begin(), s.end());
}

} // namespace px::test
