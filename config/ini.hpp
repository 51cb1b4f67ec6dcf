// The INI tokenizer of `proxy.ini`: text in, the meaningful lines out (section
// headers and `key = value` entries, each with its line number), stopping at
// the first line that is neither. It knows nothing of keys or values: the key
// table (config/keys.hpp) gives entries their meaning.
//
// Dialect: one item per line; '#' or ';' starts a comment at the start of a
// line or after a space or tab; blanks (space, tab, CR) around headers, keys
// and values are ignored; `[name]` opens a section; `key = value` splits at
// the first '='; every entry must follow a section header. A control byte
// (other than a tab, or the CR of a CRLF line end) anywhere in a line is an
// error: a NUL inside a value would otherwise cut it where C functions read.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace px::config {

/// A mistake on one line of a config file. Formatted as
/// "FILE:LINE: key 'KEY': WHAT" (without the key part when `key` is empty,
/// and without the line when `line` is 0).
struct line_error {
  /// 1-based line number; 0 for a mistake of the file as a whole.
  int line = 0;
  /// The key the mistake concerns, if any.
  std::string key;
  /// What is wrong.
  std::string what;
};

/// `text` as an error message shows it: control bytes escaped (\xNN), and
/// cut after 60 bytes with "..." (a 1 MB line is not echoed whole).
std::string shown(const std::string& text);

/// Formats `err` for `path` as documented on `line_error`.
std::string to_string(const line_error& err, const std::string& path);

/// One meaningful line.
struct ini_line {
  /// 1-based line number.
  int number = 0;
  /// The section a header opens, or the section an entry belongs to.
  std::string section;
  /// The key of an entry; empty for a section header.
  std::string key;
  /// The value of an entry (may be empty).
  std::string value;
  /// True for a `[section]` line.
  bool header = false;
};

/// A tokenized file: every meaningful line up to the first malformed one, and
/// that line's error.
struct ini_file {
  std::vector<ini_line> lines;
  /// Set when a line is malformed; `lines` ends right before it.
  std::optional<line_error> error;
};

/// Splits `text` into lines (at '\n') and tokenizes them.
ini_file tokenize(const std::string& text);

} // namespace px::config
