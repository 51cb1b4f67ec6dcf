// proxyctl: the admin client of the proxy, over SCTP (kernel or over UDP).
// Here: the command line, and the protocol its command belongs to; the
// commands themselves are in proxyctl_spcp.cpp and proxyctl_manager.cpp.
//
// Exit codes: 0 success, 1 the proxy refused the request, 2 usage error,
// 3 authentication failed, 4 transport or protocol failure.
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "admin/proxyctl_common.hpp"
#include "admin/proxyctl_manager.hpp"
#include "admin/proxyctl_spcp.hpp"

namespace {

using namespace px::proxyctl;

/// Walks the command line; an option's value that is missing or out of
/// range ends the program with exit_usage.
class arg_reader {
public:
  arg_reader(int argc, char** argv) : argc_(argc), argv_(argv) {
    // nop
  }

  /// Moves to the next argument; false after the last.
  bool next() {
    if (++i_ >= argc_)
      return false;
    arg_ = argv_[i_];
    return true;
  }

  /// The current argument.
  const std::string& arg() const {
    return arg_;
  }

  /// The value of the current option: the next argument.
  std::string value() {
    if (i_ + 1 >= argc_) {
      std::cerr << "proxyctl: " << arg_ << " needs a value\n";
      exit(exit_usage);
    }
    return argv_[++i_];
  }

  /// The value of the current option as a number in [lo, hi].
  int number(int lo, int hi) {
    auto v = value();
    char* end = nullptr;
    long n = strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < lo || n > hi) {
      std::cerr << "proxyctl: " << arg_ << ": '" << v << "' is not a number in ["
                << lo << ", " << hi << "]\n";
      exit(exit_usage);
    }
    return static_cast<int>(n);
  }

private:
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string arg_;
};

/// Reads the command line into `opt`: the options up to the command, then
/// the command and every argument after it. Returns the exit code when the
/// program ends here (--help, a bad option, no command).
std::optional<int> parse_options(int argc, char** argv, options& opt) {
  arg_reader args{argc, argv};
  while (args.next()) {
    const auto& arg = args.arg();
    if (!opt.command.empty()) {
      opt.command.push_back(arg);
    } else if (arg == "-h" || arg == "--help") {
      std::cout << usage_text;
      return exit_ok;
    } else if (arg == "--host") {
      opt.host = args.value();
    } else if (arg == "--port") {
      opt.port = args.number(1, 65535);
    } else if (arg == "--manager-port") {
      opt.manager_port = args.number(1, 65535);
    } else if (arg == "--transport") {
      opt.transport = args.value();
      if (opt.transport != "udp" && opt.transport != "kernel") {
        std::cerr << "proxyctl: --transport must be udp or kernel\n";
        return exit_usage;
      }
    } else if (arg == "--udp-port") {
      opt.udp_port = args.number(1, 65535);
    } else if (arg == "--user") {
      opt.user = args.value();
    } else if (arg == "--timeout") {
      opt.timeout_ms = args.number(1, 600000);
    } else if (arg == "--json") {
      opt.json = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      std::cerr << "proxyctl: unknown option '" << arg << "'\n" << usage_text;
      return exit_usage;
    } else {
      opt.command.push_back(arg);
    }
  }
  if (opt.command.empty()) {
    std::cerr << usage_text;
    return exit_usage;
  }
  return std::nullopt;
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  if (auto rc = parse_options(argc, argv, opt))
    return *rc;
  if (is_manager_command(opt.command[0]))
    return run_manager(opt);
  return run_spcp(opt);
}
