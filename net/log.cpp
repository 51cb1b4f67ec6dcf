#include "net/log.hpp"

#include <atomic>
#include <chrono>
#include <ctime>

#include <unistd.h>

#include "net/write_all.hpp"

namespace px::log {

namespace {

std::atomic<int> current_level{static_cast<int>(level::info)};

const char* name(level lvl) {
  switch (lvl) {
    case level::error:
      return "ERROR";
    case level::warning:
      return "WARN";
    case level::info:
      return "INFO";
    case level::debug:
      return "DEBUG";
  }
  return "?";
}

} // namespace

void set_level(level lvl) {
  current_level = static_cast<int>(lvl);
}

bool enabled(level lvl) {
  return static_cast<int>(lvl) <= current_level.load(std::memory_order_relaxed);
}

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  auto n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms));
  return buf;
}

std::string escape(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    } else {
      out += ch;
    }
  }
  return out;
}

void line(level lvl, std::string_view text) {
  if (!enabled(lvl))
    return;
  std::string out;
  out.reserve(text.size() + 40);
  out += timestamp();
  out += ' ';
  out += name(lvl);
  out += ' ';
  out += escape(text);
  out += '\n';
  net::write_all(STDERR_FILENO, out);
}

} // namespace px::log
