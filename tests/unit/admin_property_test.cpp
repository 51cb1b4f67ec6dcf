// Tier (a), properties: parse(encode(x)) == x for every SPCP and Manager
// message that has both an encoder and a parser, over random values up to
// and beyond the protocol's limits (longer values are cut to 255).
#define CAF_SUITE admin_property
#include <caf/test/unit_test_impl.hpp>

#include "admin/codec.hpp"
#include "tests/unit/property.hpp"

using namespace px;
using namespace px::admin;
using namespace px::test;

namespace {

constexpr int cases = 5000;

/// 0 to `max` bytes, lengths near the 255-byte limit as likely as short ones.
std::string random_field(property_rng& rng, size_t min, size_t max) {
  auto len = rng.between(0, 3) == 0 ? rng.between(250, 260) : rng.between(min, 40);
  return rng.bytes(std::max<size_t>(min, std::min<size_t>(len, max)));
}

manager::credentials random_credentials(property_rng& rng) {
  return {random_field(rng, 1, 255), random_field(rng, 1, 255)};
}

} // namespace

CAF_TEST(spcp requests round trip) {
  property_rng rng;
  for_all(rng, "parse_spcp_request(encode_spcp_request(cmd, args))", cases,
          [](property_rng& rng) -> std::string {
            auto cmd = rng.byte();
            std::vector<std::string> args(rng.between(0, 1) ? rng.between(0, 4)
                                                            : rng.between(250, 300));
            for (auto& arg : args)
              arg = rng.between(0, 9) == 0 ? random_field(rng, 0, 300)
                                           : rng.bytes(rng.between(0, 3));
            auto msg = encode_spcp_request(cmd, args);
            spcp_error err;
            auto req = parse_spcp_request(msg.data(), msg.size(), err);
            if (!req || req->cmd != cmd)
              return "did not parse back: " + hex(msg);
            if (req->args.size() != std::min<size_t>(args.size(), 255))
              return "argument count " + std::to_string(req->args.size());
            for (size_t i = 0; i < req->args.size(); ++i)
              if (req->args[i] != args[i].substr(0, 255))
                return "argument " + std::to_string(i) + " differs: " + hex(msg);
            return "";
          });
}

CAF_TEST(spcp responses round trip) {
  property_rng rng;
  for_all(rng, "parse_spcp_response(encode_spcp_response(st, data))", cases,
          [](property_rng& rng) -> std::string {
            auto st = static_cast<spcp::status>(rng.between(0, 4));
            auto data = random_field(rng, 0, 300);
            auto msg = encode_spcp_response(st, data);
            auto res = parse_spcp_response(msg.data(), msg.size());
            if (!res || res->status != st || res->data != data.substr(0, 255))
              return "did not parse back: " + hex(msg);
            return "";
          });
}

CAF_TEST(manager login and requests round trip) {
  property_rng rng;
  for_all(rng, "parse_login(encode_login(c))", cases, [](property_rng& rng) -> std::string {
    auto c = random_credentials(rng);
    auto msg = manager::encode_login(c);
    auto back = manager::parse_login(msg.data(), msg.size());
    if (!back || back->user != c.user || back->password != c.password)
      return "did not parse back: " + hex(msg);
    return "";
  });
  for_all(rng, "parse_request(encode_request(r))", cases, [](property_rng& rng) -> std::string {
    manager::request r;
    r.cmd = static_cast<uint8_t>(rng.between(0, 5));
    auto c = static_cast<manager::cmd>(r.cmd);
    if (c == manager::cmd::add_user || c == manager::cmd::passwd)
      r.user = random_credentials(rng);
    if (c == manager::cmd::del_user)
      r.user.user = random_credentials(rng).user;
    if (r.cmd == static_cast<uint8_t>(manager::cmd::max_clients))
      r.max_clients = static_cast<uint32_t>(rng.any_width());
    auto msg = manager::encode_request(r);
    manager::request_error err;
    auto back = manager::parse_request(msg.data(), msg.size(), err);
    if (!back || back->cmd != r.cmd || back->user.user != r.user.user
        || back->user.password != r.user.password || back->max_clients != r.max_clients)
      return "did not parse back: " + hex(msg);
    return "";
  });
}

CAF_TEST(manager replies round trip) {
  property_rng rng;
  for_all(rng, "parse_metrics_reply(encode_metrics_reply(h, a, b))", cases,
          [](property_rng& rng) -> std::string {
            manager::metrics_values v{rng.any_width(), rng.any_width(), rng.any_width()};
            auto msg = manager::encode_metrics_reply(v.historical, v.active, v.bytes);
            auto back = manager::parse_metrics_reply(msg.data(), msg.size());
            if (!back || back->historical != v.historical || back->active != v.active
                || back->bytes != v.bytes)
              return "did not parse back: " + hex(msg);
            return "";
          });
  for_all(rng, "parse_list_reply(encode_list_reply(names))", cases,
          [](property_rng& rng) -> std::string {
            std::vector<std::string> names(rng.between(0, 1) ? rng.between(0, 5)
                                                             : rng.between(250, 300));
            for (auto& name : names)
              name = rng.between(0, 9) == 0 ? random_field(rng, 0, 300)
                                            : rng.bytes(rng.between(1, 8));
            auto msg = manager::encode_list_reply(names);
            auto back = manager::parse_list_reply(msg.data(), msg.size());
            if (!back || back->size() != std::min<size_t>(names.size(), 255))
              return "did not parse back: " + hex(msg);
            for (size_t i = 0; i < back->size(); ++i)
              if ((*back)[i] != names[i].substr(0, 255))
                return "name " + std::to_string(i) + " differs: " + hex(msg);
            return "";
          });
}
