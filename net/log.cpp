#include "net/log.hpp"

#include <atomic>
#include <chrono>
#include <ctime>

#include <cstdio>
#include <cstdlib>

#include <sys/stat.h>
#include <systemd/sd-daemon.h>
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

/// The syslog priority of `lvl`, as sd-daemon.h spells it ("<3>").
const char* priority(level lvl) {
  switch (lvl) {
    case level::error:
      return SD_ERR;
    case level::warning:
      return SD_WARNING;
    case level::info:
      return SD_INFO;
    case level::debug:
      return SD_DEBUG;
  }
  return SD_INFO;
}

/// Whether $JOURNAL_STREAM ("DEVICE:INODE") is the file on stderr.
bool stderr_is_journal() {
  auto env = getenv("JOURNAL_STREAM");
  if (env == nullptr)
    return false;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (sscanf(env, "%llu:%llu", &dev, &ino) != 2)
    return false;
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0)
    return false;
  return static_cast<unsigned long long>(st.st_dev) == dev
         && static_cast<unsigned long long>(st.st_ino) == ino;
}

} // namespace

bool to_journal() {
  static const bool journal = stderr_is_journal();
  return journal;
}

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

std::string format(level lvl, std::string_view text, bool journal) {
  std::string out;
  out.reserve(text.size() + 40);
  if (journal) {
    out += priority(lvl);
  } else {
    out += timestamp();
    out += ' ';
  }
  out += name(lvl);
  out += ' ';
  out += escape(text);
  out += '\n';
  return out;
}

void line(level lvl, std::string_view text) {
  if (!enabled(lvl))
    return;
  net::write_all(STDERR_FILENO, format(lvl, text, to_journal()));
}

} // namespace px::log
