// Minimal line logger shared by every folder: one write(2) per line to
// stderr, so lines from several threads never interleave. Never pass
// credentials to it. Text often carries strings from the network (user
// names, domains): every control byte in it is written as `\xNN` and a
// backslash as `\\`, so that no input can start a line of its own or send
// terminal escapes. When standard error is the systemd journal
// ($JOURNAL_STREAM names its device and inode, systemd.exec(5)), a line
// starts with its syslog priority ("<3>", sd-daemon.h) instead of our
// timestamp: the journal stamps and ranks it itself.
#pragma once

#include <string>
#include <string_view>

namespace px::log {

/// Severity of a line.
enum class level : int { error = 0, warning = 1, info = 2, debug = 3 };

/// Lines above this level are dropped (default: info).
void set_level(level lvl);

/// True when lines of `lvl` are printed.
bool enabled(level lvl);

/// `text` with control bytes (0x00-0x1F, 0x7F) as `\xNN` and `\` as `\\`:
/// one line, safe on a terminal, and the original bytes recoverable.
std::string escape(std::string_view text);

/// Writes "<UTC time> <LEVEL> <escaped text>\n" to stderr, or
/// "<PRIORITY><LEVEL> <escaped text>\n" when stderr is the journal.
void line(level lvl, std::string_view text);

/// The line `line` writes for `lvl` and `text` (with its newline); `journal`
/// picks the form.
std::string format(level lvl, std::string_view text, bool journal);

/// True when standard error is the stream $JOURNAL_STREAM names (checked
/// once, at the first call: the environment and stderr do not change).
bool to_journal();

inline void error(std::string_view text) { line(level::error, text); }
inline void warning(std::string_view text) { line(level::warning, text); }
inline void info(std::string_view text) { line(level::info, text); }
inline void debug(std::string_view text) {
  if (enabled(level::debug))
    line(level::debug, text);
}

/// ISO 8601 UTC timestamp with milliseconds.
std::string timestamp();

} // namespace px::log
