#include "net/reactor/handshake_engine.hpp"

namespace px::net {

using socks5::parse_status;

void handshake_engine::reset(bool userpass, bool no_auth) {
  step_ = hs_step::greeting;
  userpass_ = userpass;
  no_auth_ = no_auth;
}

hs_action handshake_engine::fail(handshake_stage stage, socks5::codec_error err,
                                 size_t consumed) {
  step_ = hs_step::done;
  hs_action a;
  a.kind = hs_action::failed;
  a.stage = stage;
  a.error = err;
  a.consumed = consumed;
  return a;
}

hs_action handshake_engine::advance(const uint8_t* data, size_t size,
                                    std::vector<uint8_t>& out) {
  size_t used = 0;
  for (;;) {
    auto at = data + used;
    auto left = size - used;
    socks5::parse_result r;
    switch (step_) {
      case hs_step::greeting: {
        socks5::greeting g;
        r = socks5::parse_greeting(at, left, g);
        if (r.status == parse_status::error)
          return fail(handshake_stage::greeting, r.error, used);
        if (r.status == parse_status::need_more)
          break;
        used += r.consumed;
        auto m = socks5::choose_method(g, userpass_, no_auth_);
        if (m == socks5::method::none_acceptable)
          return fail(handshake_stage::method, socks5::codec_error::none, used);
        auto bytes = socks5::encode_method_choice(m);
        out.insert(out.end(), bytes.begin(), bytes.end());
        step_ = m == socks5::method::userpass ? hs_step::credentials : hs_step::request;
        continue;
      }
      case hs_step::credentials: {
        hs_action a;
        r = socks5::parse_credentials(at, left, a.creds);
        if (r.status == parse_status::error)
          return fail(handshake_stage::credentials, r.error, used);
        if (r.status == parse_status::need_more)
          break;
        step_ = hs_step::authenticating;
        a.kind = hs_action::credentials;
        a.consumed = used + r.consumed;
        return a;
      }
      case hs_step::request: {
        hs_action a;
        r = socks5::parse_request(at, left, a.req);
        if (r.status == parse_status::error)
          return fail(handshake_stage::request, r.error, used);
        if (r.status == parse_status::need_more)
          break;
        step_ = hs_step::done;
        a.kind = hs_action::request;
        a.consumed = used + r.consumed;
        return a;
      }
      case hs_step::authenticating:
      case hs_step::done: {
        hs_action a;
        a.kind = hs_action::idle;
        a.consumed = used;
        return a;
      }
    }
    // need more: every complete message so far is consumed
    hs_action a;
    a.kind = hs_action::need_more;
    a.consumed = used;
    return a;
  }
}

bool handshake_engine::authenticated(bool ok, std::vector<uint8_t>& out) {
  if (step_ != hs_step::authenticating)
    return false;
  auto status = socks5::encode_auth_status(ok);
  out.insert(out.end(), status.begin(), status.end());
  step_ = ok ? hs_step::request : hs_step::done;
  return ok;
}

} // namespace px::net
