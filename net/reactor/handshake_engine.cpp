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
    hs_action a;
    switch (step_) {
      case hs_step::greeting:
        a = on_greeting(data + used, size - used, out);
        break;
      case hs_step::credentials:
        a = on_credentials(data + used, size - used);
        break;
      case hs_step::request:
        a = on_request(data + used, size - used);
        break;
      case hs_step::authenticating:
      case hs_step::done:
        a.kind = hs_action::idle;
        break;
    }
    auto now = a.consumed;
    used += now;
    a.consumed = used;
    // A greeting consumed: the next message may be there already.
    if (a.kind != hs_action::need_more || now == 0)
      return a;
  }
}

hs_action handshake_engine::on_greeting(const uint8_t* data, size_t size,
                                        std::vector<uint8_t>& out) {
  hs_action a;
  socks5::greeting g;
  auto r = socks5::parse_greeting(data, size, g);
  if (r.status == parse_status::error)
    return fail(handshake_stage::greeting, r.error, 0);
  if (r.status == parse_status::need_more)
    return a;
  auto m = socks5::choose_method(g, userpass_, no_auth_);
  if (m == socks5::method::none_acceptable)
    return fail(handshake_stage::method, socks5::codec_error::none, r.consumed);
  auto bytes = socks5::encode_method_choice(m);
  out.insert(out.end(), bytes.begin(), bytes.end());
  step_ = m == socks5::method::userpass ? hs_step::credentials : hs_step::request;
  a.consumed = r.consumed; // need_more with bytes consumed: go on
  return a;
}

hs_action handshake_engine::on_credentials(const uint8_t* data, size_t size) {
  hs_action a;
  auto r = socks5::parse_credentials(data, size, a.creds);
  if (r.status == parse_status::error)
    return fail(handshake_stage::credentials, r.error, 0);
  if (r.status == parse_status::done) {
    step_ = hs_step::authenticating;
    a.kind = hs_action::credentials;
    a.consumed = r.consumed;
  }
  return a;
}

hs_action handshake_engine::on_request(const uint8_t* data, size_t size) {
  hs_action a;
  auto r = socks5::parse_request(data, size, a.req);
  if (r.status == parse_status::error)
    return fail(handshake_stage::request, r.error, 0);
  if (r.status == parse_status::done) {
    step_ = hs_step::done;
    a.kind = hs_action::request;
    a.consumed = r.consumed;
  }
  return a;
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
