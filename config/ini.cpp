#include "config/ini.hpp"

#include <sstream>

#include "net/log.hpp"

namespace px::config {

namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

/// Drops a trailing comment: '#' or ';' at the start or after whitespace.
std::string strip_comment(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i)
    if ((s[i] == '#' || s[i] == ';') && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t'))
      return s.substr(0, i);
  return s;
}

/// Tokenizes one non-empty line (comment and blanks already gone) under
/// `section`; nullopt with `err` set when the line is malformed.
std::optional<ini_line> tokenize_line(const std::string& line, int number,
                                      const std::string& section,
                                      line_error& err) {
  ini_line out;
  out.number = number;
  err.line = number;
  if (line.front() == '[') {
    if (line.back() != ']') {
      err.what = "malformed section header '" + shown(line) + "'";
      return std::nullopt;
    }
    out.header = true;
    out.section = trim(line.substr(1, line.size() - 2));
    return out;
  }
  auto eq = line.find('=');
  if (eq == std::string::npos) {
    err.what = "expected 'key = value', got '" + shown(line) + "'";
    return std::nullopt;
  }
  out.key = trim(line.substr(0, eq));
  out.value = trim(line.substr(eq + 1));
  if (section.empty()) {
    err.key = out.key;
    err.what = "appears before any [section]";
    return std::nullopt;
  }
  out.section = section;
  return out;
}

/// The first control byte of `line` other than a tab, or -1 (CRs at its
/// end are part of a CRLF line end, and blanks the trimming drops).
int control_byte(const std::string& line) {
  auto end = line.size();
  while (end > 0 && line[end - 1] == '\r')
    --end;
  for (size_t i = 0; i < end; ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7F)
      return c;
  }
  return -1;
}

} // namespace

std::string shown(const std::string& text) {
  constexpr size_t most = 60;
  if (text.size() <= most)
    return log::escape(text);
  return log::escape(text.substr(0, most)) + "...";
}

std::string to_string(const line_error& err, const std::string& path) {
  std::ostringstream os;
  os << path;
  if (err.line > 0)
    os << ":" << err.line;
  os << ": ";
  if (!err.key.empty())
    os << "key '" << shown(err.key) << "': ";
  os << err.what;
  return os.str();
}

ini_file tokenize(const std::string& text) {
  ini_file file;
  std::string section;
  int number = 0;
  std::istringstream in{text};
  std::string raw;
  while (std::getline(in, raw)) {
    ++number;
    if (auto c = control_byte(raw); c >= 0) {
      auto byte = log::escape(std::string(1, static_cast<char>(c)));
      file.error = line_error{number, {}, "control byte " + byte + " in the line"};
      break;
    }
    auto line = trim(strip_comment(raw));
    if (line.empty())
      continue;
    line_error err;
    auto item = tokenize_line(line, number, section, err);
    if (!item) {
      file.error = std::move(err);
      break;
    }
    if (item->header)
      section = item->section;
    file.lines.push_back(std::move(*item));
  }
  return file;
}

} // namespace px::config
