// What running as a daemon adds, as plain code: the JSON access log line,
// the access log's reopen, the settings' reload and the transformation off
// switch, the journal's priority prefixes.
#define CAF_SUITE ops
#include <caf/test/unit_test_impl.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "actors/access_log.hpp"
#include "actors/settings.hpp"
#include "net/log.hpp"

using namespace px;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>{in}, {}};
}

access_record sample_record() {
  access_record rec;
  rec.start_unix_ms = 1700000000123;
  rec.client = "127.0.0.1:4000";
  rec.user = "demo";
  rec.destination = "example.org:443";
  rec.result = "ok";
  rec.bytes_up = 10;
  rec.bytes_down = 2000;
  rec.duration_ms = 42;
  return rec;
}

} // namespace

CAF_TEST(a json access line has every field in order) {
  CAF_CHECK_EQUAL(format_access_json(sample_record()),
                  R"({"time":"2023-11-14T22:13:20.123Z","client":"127.0.0.1:4000",)"
                  R"("user":"demo","dest":"example.org:443","result":"ok",)"
                  R"("up":10,"down":2000,"ms":42})");
  auto rec = sample_record();
  rec.user = "-";
  rec.destination = "-";
  auto obj = nlohmann::json::parse(format_access_json(rec));
  CAF_CHECK(obj["user"].is_null());
  CAF_CHECK(obj["dest"].is_null());
}

CAF_TEST(a json access line is valid JSON for any bytes) {
  auto rec = sample_record();
  // Quotes, a backslash, control bytes, a lone continuation byte, a cut
  // sequence, an overlong NUL and a surrogate.
  rec.user = std::string("a\"b\\c\n\x01\x7f\x80z\xc3\xc0\x80\xed\xa0\x80", 16);
  rec.destination = std::string("\xff\xfe\0.example:80", 14);
  auto line = format_access_json(rec);
  CAF_CHECK(line.find('\n') == std::string::npos);
  auto obj = nlohmann::json::parse(line); // throws on invalid UTF-8
  auto user = obj["user"].get<std::string>();
  // The bad bytes become U+FFFD (EF BF BD); the rest stays as it was.
  auto expected_start = std::string("a\"b\\c\n\x01\x7f", 8) + "\xef\xbf\xbd" "z";
  CAF_CHECK_EQUAL(user.substr(0, expected_start.size()), expected_start);
  CAF_CHECK_EQUAL(obj["dest"].get<std::string>(),
                  std::string("\xef\xbf\xbd\xef\xbf\xbd\0.example:80", 18));
}

CAF_TEST(the access log reopens its file after a rename and keeps it on error) {
  char path[] = "/tmp/proxy-reopen-XXXXXX";
  int fd = mkstemp(path);
  CAF_REQUIRE(fd >= 0);
  std::string rotated = std::string{path} + ".1";
  {
    access_log_state st;
    st.fd = fd;
    st.owns_fd = true;
    st.spec = access_log_spec{path, config::access_log_format::text};
    CAF_CHECK(st.write(sample_record()));
    CAF_REQUIRE_EQUAL(std::rename(path, rotated.c_str()), 0);
    // Reopened as JSON: the new file gets the next line.
    CAF_CHECK_EQUAL(st.reopen({path, config::access_log_format::json}), "");
    CAF_CHECK(st.write(sample_record()));
    // A target that cannot be opened: the error, and the file in use stays.
    auto err = st.reopen({"/nonexistent/dir/access.log", config::access_log_format::text});
    CAF_CHECK(!err.empty());
    CAF_CHECK_EQUAL(st.spec.target, path);
    CAF_CHECK(st.write(sample_record()));
    CAF_CHECK_EQUAL(st.written, 3u);
  }
  auto old_text = read_all(rotated);
  auto new_text = read_all(path);
  CAF_CHECK_EQUAL(old_text, format_access_record(sample_record()) + "\n");
  auto json_line = format_access_json(sample_record()) + "\n";
  CAF_CHECK_EQUAL(new_text, json_line + json_line);
  std::remove(path);
  std::remove(rotated.c_str());
}

CAF_TEST(transform_command off refuses a filter and a reload to off drops it) {
  settings_state st;
  st.current.transform_allowed = true;
  CAF_CHECK(st.set_transform("tr a-z A-Z") == setting_change::applied);
  CAF_CHECK_EQUAL(st.current.transform, "tr a-z A-Z");
  CAF_CHECK(st.set_transform(std::string(256, 'x')) == setting_change::out_of_range);
  // A reload that allows filters keeps the one set over the admin plane.
  session_settings next;
  next.transform_allowed = true;
  next.buffer_size = 32768;
  st.reload(next);
  CAF_CHECK_EQUAL(st.current.transform, "tr a-z A-Z");
  CAF_CHECK_EQUAL(st.current.buffer_size, 32768u);
  // A reload to off drops it; setting one is refused, clearing it is fine.
  next.transform_allowed = false;
  st.reload(next);
  CAF_CHECK_EQUAL(st.current.transform, "");
  CAF_CHECK(st.set_transform("cat") == setting_change::disabled);
  CAF_CHECK_EQUAL(st.current.transform, "");
  CAF_CHECK(st.set_transform("") == setting_change::applied);
}

CAF_TEST(a reload replaces values the admin plane set) {
  settings_state st;
  st.current.max_clients = 100;
  st.from_file = st.current;
  st.current.max_clients = 5; // set over the Manager protocol
  session_settings next;
  next.max_clients = 200;
  next.rules = std::make_shared<const net::rule_set>(
    std::vector<net::cidr>{*net::cidr::parse("10.0.0.0/8")}, std::vector<net::rule>{},
    net::rule_action::pass);
  st.reload(next);
  CAF_CHECK_EQUAL(st.current.max_clients, 200u);
  CAF_CHECK_EQUAL(st.from_file.max_clients, 200u);
  CAF_REQUIRE(st.current.rules != nullptr);
  CAF_CHECK_EQUAL(st.current.rules->rules().size(), 1u);
}

CAF_TEST(journal lines carry a priority instead of a timestamp) {
  CAF_CHECK_EQUAL(log::format(log::level::error, "boom", true), "<3>ERROR boom\n");
  CAF_CHECK_EQUAL(log::format(log::level::warning, "w", true), "<4>WARN w\n");
  CAF_CHECK_EQUAL(log::format(log::level::info, "a\nb", true), "<6>INFO a\\x0ab\n");
  CAF_CHECK_EQUAL(log::format(log::level::debug, "d", true), "<7>DEBUG d\n");
  auto plain = log::format(log::level::info, "x", false);
  CAF_CHECK_EQUAL(plain.substr(plain.size() - 8), " INFO x\n");
  CAF_CHECK_EQUAL(plain[4], '-');
  CAF_CHECK(plain[0] != '<');
}
