// Pure codecs of the two admin protocols. SCTP keeps message boundaries, so
// every parser takes exactly one whole message; a length field that runs past
// its end, or bytes left after the last field, are errors.
//
// SPCP (../shared/specs/spcp.txt, resolutions in docs/admin-protocols.md):
//   request:  CMD(1) NARGS(1) { ARGLEN(1) ARG(ARGLEN) } * NARGS
//   response: STATUS(1) DATALEN(1) DATA(DATALEN), DATA ASCII
//   phases:   authentication (USER, PASS) -> transaction (queries, setters,
//             QUIT); three failed logins end the association.
//
// Manager (../shared/specs/manager.txt):
//   login:    VER(1)=0x01 ULEN(1) UNAME PLEN(1) PASSWD  -> VER(1)=0x05 STATUS(1)
//   request:  VER(1)=0x05 CMD(1) DATA                   -> one reply, then close
//     0x00 add user     DATA = ULEN UNAME PLEN PASSWD   -> VER CMD STATUS
//     0x01 list users   DATA empty                      -> VER CMD LLEN {ULEN UNAME}
//     0x02 metrics      DATA empty                      -> VER CMD HLEN HIST ALEN ACTIVE BLEN BYTES
//     0x03 max clients  DATA = SLEN(1)=4 SIZE(4, BE)    -> VER CMD STATUS
//   our extension (docs/admin-protocols.md, "User management"):
//     0x04 delete user  DATA = ULEN UNAME               -> VER CMD STATUS
//     0x05 password     DATA = ULEN UNAME PLEN PASSWD   -> VER CMD STATUS
//   our extension (docs/admin-protocols.md, "Reload"):
//     0x06 reload       DATA empty                      -> VER CMD STATUS TLEN TEXT
//
// Limits: no legitimate message of either protocol is longer than 65538
// bytes; the transports reject anything above `max_admin_message`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/spcp_proto.hpp"
#include "net/account_stats.hpp"

namespace px::admin {

/// Largest admin message accepted (bigger ones are refused unread).
constexpr size_t max_admin_message = 4096;

// -- SPCP ---------------------------------------------------------------------

/// Why an SPCP request did not parse.
enum class spcp_error : uint8_t {
  /// Fewer than 2 bytes: no CMD or NARGS.
  no_header,
  /// An ARGLEN runs past the end of the message.
  truncated,
  /// Bytes remain after the last argument.
  trailing_bytes,
};

/// One SPCP request.
struct spcp_request {
  /// CMD as sent (may be unknown).
  uint8_t cmd = 0;
  /// Arguments, each 0 to 255 bytes.
  std::vector<std::string> args;
};

/// One SPCP response.
struct spcp_response {
  spcp::status status = spcp::status::ok;
  /// ASCII data, at most 255 bytes.
  std::string data;
};

/// Parses one whole SPCP request; nullopt with `err` set when malformed.
std::optional<spcp_request> parse_spcp_request(const uint8_t* buf, size_t n,
                                               spcp_error& err);

/// Encodes a request (for proxyctl). Arguments longer than 255 bytes and
/// more than 255 arguments are cut.
std::vector<uint8_t> encode_spcp_request(uint8_t cmd,
                                         const std::vector<std::string>& args);

/// Encodes a response; data longer than 255 bytes is cut.
std::vector<uint8_t> encode_spcp_response(spcp::status st, std::string_view data);

/// Parses one whole response (for proxyctl).
std::optional<spcp_response> parse_spcp_response(const uint8_t* buf, size_t n);

// -- Manager ------------------------------------------------------------------

namespace manager {

/// VER of the login message.
constexpr uint8_t login_version = 0x01;
/// VER of requests and replies.
constexpr uint8_t version = 0x05;
/// Default SCTP port (the spec names none).
constexpr uint16_t default_port = 9091;

/// CMD values.
enum class cmd : uint8_t {
  add_user = 0x00,
  list_users = 0x01,
  metrics = 0x02,
  max_clients = 0x03,
  /// Our extension: delete a user (DATA = ULEN UNAME).
  del_user = 0x04,
  /// Our extension: change a user's password (DATA = ULEN UNAME PLEN PASSWD).
  passwd = 0x05,
  /// Our extension: reload the config file and the users file, as SIGHUP
  /// does (DATA empty).
  reload = 0x06,
  /// Our extension: per-user counters (DATA = ULEN UNAME; ULEN 0: every
  /// user).
  user_stats = 0x07,
  /// Our extension: every cluster node's metrics (DATA empty;
  /// admin/cluster_codec.hpp, docs/cluster.md).
  cluster_metrics = 0x08,
  /// Our extension: apply a setting on every cluster node (DATA = KIND(1)
  /// VLEN(1) VALUE; admin/cluster_codec.hpp, docs/cluster.md).
  cluster_setting = 0x09,
};

/// STATUS values we send (any non-zero value is a failure).
enum class status : uint8_t {
  ok = 0x00,
  /// Bad credentials, or a user without the admin role.
  auth_failed = 0x01,
  /// Malformed message (lengths, trailing bytes, wrong version).
  malformed = 0x02,
  /// Unknown CMD.
  unknown_command = 0x03,
  /// Add user: the name exists.
  user_exists = 0x04,
  /// Add user: the registry is full.
  registry_full = 0x05,
  /// Invalid value (bad name or password, max clients out of range).
  invalid_value = 0x06,
  /// The proxy could not complete the request (e.g. the users file cannot be
  /// written).
  server_error = 0x07,
  /// Delete user, password: no user of that name.
  no_such_user = 0x08,
  /// Delete user: the user has the admin role (admins are managed in the
  /// users file, never deleted over the admin plane).
  forbidden = 0x09,
  /// Delete user, password: another change of that user is in flight.
  busy = 0x0a,
  /// Reload: the config file or the users file is invalid (the reply's text
  /// names FILE:LINE); the running configuration stays.
  invalid_config = 0x0b,
};

const char* to_string(status x);

/// Login or add-user credentials.
struct credentials {
  std::string user;
  std::string password;
};

/// Parses a login message (VER=1).
std::optional<credentials> parse_login(const uint8_t* buf, size_t n);

/// Encodes a login message (for proxyctl).
std::vector<uint8_t> encode_login(const credentials& c);

/// A parsed request.
struct request {
  /// CMD as sent.
  uint8_t cmd = 0;
  /// For add_user and passwd (name and password), del_user (name only).
  credentials user;
  /// For max_clients.
  uint32_t max_clients = 0;
  /// For cluster_setting: which setting (cluster_codec.hpp) and its value.
  uint8_t setting = 0;
  std::string value{};
};

/// Why a request failed to parse (maps to a reply status).
enum class request_error : uint8_t { malformed, unknown_command };

/// Parses one whole request.
std::optional<request> parse_request(const uint8_t* buf, size_t n,
                                     request_error& err);

/// Encodes a request (for proxyctl).
std::vector<uint8_t> encode_request(const request& r);

/// VER STATUS (login reply).
std::vector<uint8_t> encode_login_reply(status st);

/// VER CMD STATUS (add user, max clients, and every error).
std::vector<uint8_t> encode_status_reply(uint8_t cmd, status st);

/// VER CMD LLEN { ULEN UNAME } (at most 255 names are listed).
std::vector<uint8_t> encode_list_reply(const std::vector<std::string>& names);

/// VER CMD HLEN HIST ALEN ACTIVE BLEN BYTES, each value big-endian in the
/// fewest bytes that hold it (at least 1).
std::vector<uint8_t> encode_metrics_reply(uint64_t historical, uint64_t active,
                                          uint64_t bytes);

/// Decoded metrics reply (for proxyctl).
struct metrics_values {
  uint64_t historical = 0;
  uint64_t active = 0;
  uint64_t bytes = 0;
};

/// Encodes NLEN NUM: the number in NLEN (1-8) big-endian bytes.
void encode_number(uint64_t v, std::vector<uint8_t>& out);

/// Decodes NLEN NUM at `pos` (advanced past it); false when malformed.
bool decode_number(const uint8_t* buf, size_t n, size_t& pos, uint64_t& out);

/// One user's counters in a user_stats reply, in wire order.
using user_counters = net::account_stats;

/// VER CMD STATUS COUNT { ULEN UNAME 10 x (NLEN NUM) }: at most 255 users,
/// each number as in the metrics reply.
std::vector<uint8_t> encode_user_stats_reply(const std::vector<user_counters>& users);

/// Decodes a user_stats reply with status ok (for proxyctl).
std::optional<std::vector<user_counters>> parse_user_stats_reply(const uint8_t* buf,
                                                                 size_t n);

/// Longest TEXT of a reload reply (longer text is cut).
constexpr size_t max_reload_text = 255;

/// VER CMD STATUS TLEN TEXT: the outcome of a reload, as one line of text
/// (on failure the error, FILE:LINE: ...); text longer than 255 bytes is cut.
std::vector<uint8_t> encode_reload_reply(status st, std::string_view text);

/// Decoded reload reply (for proxyctl).
struct reload_values {
  status st = status::ok;
  /// The outcome line, 0 to 255 bytes.
  std::string text;
};

/// Parses a reload reply; nullopt unless VER CMD=0x06 STATUS TLEN TEXT with
/// exactly TLEN bytes of text (a bare VER CMD STATUS error reply is not one).
std::optional<reload_values> parse_reload_reply(const uint8_t* buf, size_t n);

std::optional<metrics_values> parse_metrics_reply(const uint8_t* buf, size_t n);

std::optional<std::vector<std::string>> parse_list_reply(const uint8_t* buf,
                                                         size_t n);

} // namespace manager

} // namespace px::admin
