// Fuzz target: SPCP requests and responses (admin/codec.hpp), each input
// read as one whole SCTP message of either kind.
#include "admin/codec.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace px;
using namespace px::admin;
using namespace px::fuzz;

namespace {

bool accepts_request(const uint8_t* buf, size_t n) {
  spcp_error err;
  return parse_spcp_request(buf, n, err).has_value();
}

bool accepts_response(const uint8_t* buf, size_t n) {
  return parse_spcp_response(buf, n).has_value();
}

void check_request(const uint8_t* data, size_t size) {
  spcp_error err = spcp_error::trailing_bytes;
  auto req = parse_spcp_request(data, size, err);
  if (!req) {
    FUZZ_CHECK((err == spcp_error::no_header) == (size < 2));
    return;
  }
  FUZZ_CHECK(req->cmd == data[0] && req->args.size() == data[1]);
  spcp::to_string(static_cast<spcp::cmd>(req->cmd)); // any CMD: a name or null
  // Round trip: the encoder gives back exactly the message.
  FUZZ_CHECK(same_bytes(encode_spcp_request(req->cmd, req->args), data, size));
  check_exact_length(data, size, accepts_request);
}

void check_response(const uint8_t* data, size_t size) {
  auto res = parse_spcp_response(data, size);
  if (!res)
    return;
  FUZZ_CHECK(spcp::to_string(res->status) != nullptr);
  FUZZ_CHECK(same_bytes(encode_spcp_response(res->status, res->data), data, size));
  check_exact_length(data, size, accepts_response);
}

/// Whatever the encoders are given, their output parses back to it, cut to
/// the protocol's limits (255 arguments of 255 bytes, 255 bytes of data).
void check_encoders(const uint8_t* data, size_t size) {
  std::vector<std::string> args;
  std::string arg;
  for (size_t i = 1; i < size; ++i) {
    if (data[i] == 0xFF) { // argument separator of this test
      args.push_back(arg);
      arg.clear();
    } else {
      arg.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(arg);
  uint8_t cmd = size > 0 ? data[0] : 0;
  auto msg = encode_spcp_request(cmd, args);
  spcp_error err;
  auto req = parse_spcp_request(msg.data(), msg.size(), err);
  FUZZ_CHECK(req && req->cmd == cmd);
  FUZZ_CHECK(req->args.size() == std::min<size_t>(args.size(), 255));
  for (size_t i = 0; i < req->args.size(); ++i)
    FUZZ_CHECK(req->args[i] == args[i].substr(0, 255));
  auto text = std::string(reinterpret_cast<const char*>(data), size);
  auto st = static_cast<spcp::status>(cmd);
  auto resp_msg = encode_spcp_response(st, text);
  auto resp = parse_spcp_response(resp_msg.data(), resp_msg.size());
  FUZZ_CHECK(resp && resp->status == st && resp->data == text.substr(0, 255));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size <= max_admin_message) // the transports refuse longer ones unread
    check_all(data, size, check_request, check_response, check_encoders);
  return 0;
}
