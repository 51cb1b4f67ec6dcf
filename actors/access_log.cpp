#include "actors/access_log.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <caf/all.hpp>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "net/log.hpp"
#include "net/write_all.hpp"

namespace px {

namespace {

/// The record's start as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC).
std::string start_time(const access_record& rec) {
  auto secs = static_cast<time_t>(rec.start_unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[40];
  auto n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ts + n, sizeof(ts) - n, ".%03dZ",
           static_cast<int>(rec.start_unix_ms % 1000));
  return ts;
}

/// `text` as a JSON value: null for "-" (none), else a string.
nlohmann::json name_or_null(const std::string& text) {
  if (text == "-")
    return nullptr;
  return text;
}

} // namespace

access_log_state::~access_log_state() {
  if (owns_fd && fd >= 0)
    ::close(fd);
}

bool access_log_state::write(const access_record& rec) {
  if (fd < 0)
    return false;
  auto line = spec.format == config::access_log_format::json
                ? format_access_json(rec)
                : format_access_record(rec);
  line += '\n';
  if (!net::write_all(fd, line))
    return false;
  ++written;
  return true;
}

std::string access_log_state::reopen(const access_log_spec& next) {
  int next_fd = -1;
  if (auto err = open_access_log(next.target, next_fd); !err.empty())
    return err;
  if (owns_fd && fd >= 0)
    ::close(fd);
  fd = next_fd;
  owns_fd = next_fd > STDERR_FILENO;
  spec = next;
  return {};
}

std::string format_access_record(const access_record& rec) {
  std::string out = start_time(rec);
  out += " client=" + rec.client;
  out += " user=" + rec.user;
  out += " dest=" + rec.destination;
  out += " result=" + rec.result;
  out += " up=" + std::to_string(rec.bytes_up);
  out += " down=" + std::to_string(rec.bytes_down);
  out += " ms=" + std::to_string(rec.duration_ms);
  // Names come from the network: never let them break the line format.
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      c = '?';
  return out;
}

std::string format_access_json(const access_record& rec) {
  nlohmann::ordered_json obj;
  obj["time"] = start_time(rec);
  obj["client"] = rec.client;
  obj["user"] = name_or_null(rec.user);
  obj["dest"] = name_or_null(rec.destination);
  obj["result"] = rec.result;
  obj["up"] = rec.bytes_up;
  obj["down"] = rec.bytes_down;
  obj["ms"] = rec.duration_ms;
  // Control bytes are escaped as \u00XX; bytes that are not UTF-8 (names
  // come from the network) become U+FFFD instead of breaking the line.
  return obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string open_access_log(const std::string& target, int& fd) {
  if (target == "off") {
    fd = -1;
    return {};
  }
  if (target == "-") {
    fd = STDOUT_FILENO;
    return {};
  }
  fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0)
    return target + ": cannot open access log: " + std::strerror(errno);
  return {};
}

access_log_actor::behavior_type
access_log(access_log_actor::stateful_pointer<access_log_state> self, int fd,
           bool owns_fd, access_log_spec spec) {
  self->state.fd = fd;
  self->state.owns_fd = owns_fd;
  self->state.spec = std::move(spec);
  return {
    [=](access_record& rec) { self->state.write(rec); },
    // Messages are handled in order: every record that arrived before this
    // request has been written when it is answered.
    [=](flush_atom) { return self->state.written; },
    [=](reopen_atom, access_log_spec& next) {
      auto err = self->state.reopen(next);
      if (!err.empty())
        log::error(err + " (still writing to the previous file)");
      return err;
    },
  };
}

} // namespace px
