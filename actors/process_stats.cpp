// The process's series of the Prometheus endpoint (prometheus-cpp has no
// process collector): the names and meanings every Prometheus client uses,
// read from /proc on the scraping thread.
#include "actors/prometheus.hpp"

#include <fstream>
#include <optional>
#include <sstream>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

namespace px {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

/// What /proc/self/stat says of the process.
struct proc_stat {
  double cpu_seconds = 0; ///< User plus system time.
  double start_ticks = 0; ///< Clock ticks after boot when it started.
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

std::optional<proc_stat> read_proc_stat() {
  std::ifstream in{"/proc/self/stat"};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold blanks and parentheses: the fields
  // after it start behind its last ')', with field 3 (state) as token 0.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream fields{text.substr(close + 1)};
  std::vector<std::string> tok;
  for (std::string t; fields >> t;)
    tok.push_back(t);
  if (tok.size() < 22)
    return std::nullopt;
  auto num = [&](size_t field) { return std::stod(tok[field - 3]); };
  auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  auto page = static_cast<double>(sysconf(_SC_PAGESIZE));
  proc_stat st;
  st.cpu_seconds = (num(14) + num(15)) / ticks;
  st.start_ticks = num(22);
  st.virtual_bytes = num(23);
  st.resident_bytes = num(24) * page;
  return st;
}

/// The boot time (Unix seconds), from /proc/stat.
std::optional<double> boot_time() {
  std::ifstream in{"/proc/stat"};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("btime ", 0) == 0)
      return std::stod(line.substr(6));
  return std::nullopt;
}

/// Descriptors open now (the directory's own excepted).
std::optional<double> open_fds() {
  auto dir = opendir("/proc/self/fd");
  if (dir == nullptr)
    return std::nullopt;
  double n = 0;
  while (auto e = readdir(dir))
    if (e->d_name[0] != '.')
      ++n;
  closedir(dir);
  return n - 1;
}

MetricFamily one(const char* name, const char* help, MetricType type, double v) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  ClientMetric m;
  if (type == MetricType::Counter)
    m.counter.value = v;
  else
    m.gauge.value = v;
  f.metric.push_back(m);
  return f;
}

} // namespace

std::vector<MetricFamily> process_families() {
  using t = MetricType;
  std::vector<MetricFamily> out;
  try {
    if (auto st = read_proc_stat()) {
      out.push_back(one("process_cpu_seconds_total",
                        "Total user and system CPU time spent in seconds.",
                        t::Counter, st->cpu_seconds));
      out.push_back(one("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                        t::Gauge, st->virtual_bytes));
      out.push_back(one("process_resident_memory_bytes",
                        "Resident memory size in bytes.", t::Gauge, st->resident_bytes));
      if (auto boot = boot_time())
        out.push_back(one("process_start_time_seconds",
                          "Start time of the process since unix epoch in seconds.",
                          t::Gauge,
                          *boot + st->start_ticks / static_cast<double>(sysconf(_SC_CLK_TCK))));
    }
  } catch (const std::exception&) {
    // A /proc we cannot parse (std::stod): those series are left out.
  }
  if (auto n = open_fds())
    out.push_back(one("process_open_fds", "Number of open file descriptors.", t::Gauge, *n));
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    out.push_back(one("process_max_fds", "Maximum number of open file descriptors.",
                      t::Gauge, static_cast<double>(rl.rlim_cur)));
  return out;
}

} // namespace px
