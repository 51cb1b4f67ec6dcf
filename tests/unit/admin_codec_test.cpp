// Tier (a): SPCP and Manager codecs against annotated golden bytes, with
// truncated, trailing and oversized input.
#define CAF_SUITE admin_codec
#include <caf/test/unit_test_impl.hpp>

#include "admin/cluster_codec.hpp"
#include "admin/codec.hpp"

using namespace px;
using namespace px::admin;
using bytes = std::vector<uint8_t>;

CAF_TEST(spcp request golden bytes) {
  // CMD=USER NARGS=1 ARGLEN=5 "admin"
  bytes in{0x00, 0x01, 0x05, 'a', 'd', 'm', 'i', 'n'};
  spcp_error err;
  auto req = parse_spcp_request(in.data(), in.size(), err);
  CAF_REQUIRE(req);
  CAF_CHECK_EQUAL(req->cmd, 0x00);
  CAF_REQUIRE_EQUAL(req->args.size(), 1u);
  CAF_CHECK_EQUAL(req->args[0], "admin");
  CAF_CHECK(encode_spcp_request(0x00, {"admin"}) == in);
  // CMD=CONCURRENT NARGS=0
  bytes q{0x02, 0x00};
  req = parse_spcp_request(q.data(), q.size(), err);
  CAF_REQUIRE(req);
  CAF_CHECK(req->args.empty());
  // Two arguments, one empty.
  bytes two{0x07, 0x02, 0x00, 0x02, 'a', 'b'};
  req = parse_spcp_request(two.data(), two.size(), err);
  CAF_REQUIRE(req);
  CAF_CHECK_EQUAL(req->args.size(), 2u);
  CAF_CHECK_EQUAL(req->args[0], "");
  CAF_CHECK_EQUAL(req->args[1], "ab");
}

CAF_TEST(spcp request errors) {
  spcp_error err;
  bytes empty;
  CAF_CHECK(!parse_spcp_request(empty.data(), 0, err));
  CAF_CHECK(err == spcp_error::no_header);
  bytes one{0x02};
  CAF_CHECK(!parse_spcp_request(one.data(), one.size(), err));
  CAF_CHECK(err == spcp_error::no_header);
  bytes truncated{0x00, 0x01, 0x05, 'a', 'd'};
  CAF_CHECK(!parse_spcp_request(truncated.data(), truncated.size(), err));
  CAF_CHECK(err == spcp_error::truncated);
  bytes missing_arg{0x00, 0x02, 0x01, 'a'};
  CAF_CHECK(!parse_spcp_request(missing_arg.data(), missing_arg.size(), err));
  CAF_CHECK(err == spcp_error::truncated);
  bytes trailing{0x02, 0x00, 0xFF};
  CAF_CHECK(!parse_spcp_request(trailing.data(), trailing.size(), err));
  CAF_CHECK(err == spcp_error::trailing_bytes);
}

CAF_TEST(spcp response golden bytes) {
  // STATUS=OK DATALEN=3 "123"
  CAF_CHECK(encode_spcp_response(spcp::status::ok, "123")
            == (bytes{0x00, 0x03, '1', '2', '3'}));
  CAF_CHECK(encode_spcp_response(spcp::status::auth_error, "")
            == (bytes{0x01, 0x00}));
  std::string long_data(300, 'x');
  auto r = encode_spcp_response(spcp::status::ok, long_data);
  CAF_CHECK_EQUAL(r.size(), 257u);
  CAF_CHECK_EQUAL(r[1], 255);
  bytes in{0x03, 0x02, 'h', 'i'};
  auto parsed = parse_spcp_response(in.data(), in.size());
  CAF_REQUIRE(parsed);
  CAF_CHECK(parsed->status == spcp::status::invalid_args);
  CAF_CHECK_EQUAL(parsed->data, "hi");
  bytes bad{0x00, 0x05, 'a'};
  CAF_CHECK(!parse_spcp_response(bad.data(), bad.size()));
}

CAF_TEST(manager login golden bytes) {
  // VER=1 ULEN=5 "admin" PLEN=2 "pw"
  bytes in{0x01, 0x05, 'a', 'd', 'm', 'i', 'n', 0x02, 'p', 'w'};
  auto c = manager::parse_login(in.data(), in.size());
  CAF_REQUIRE(c);
  CAF_CHECK_EQUAL(c->user, "admin");
  CAF_CHECK_EQUAL(c->password, "pw");
  CAF_CHECK(manager::encode_login(*c) == in);
  CAF_CHECK(manager::encode_login_reply(manager::status::ok) == (bytes{0x05, 0x00}));
  bytes wrong_ver{0x05, 0x01, 'a', 0x01, 'b'};
  CAF_CHECK(!manager::parse_login(wrong_ver.data(), wrong_ver.size()));
  bytes trailing{0x01, 0x01, 'a', 0x01, 'b', 0x00};
  CAF_CHECK(!manager::parse_login(trailing.data(), trailing.size()));
  bytes empty_pw{0x01, 0x01, 'a', 0x00};
  CAF_CHECK(!manager::parse_login(empty_pw.data(), empty_pw.size()));
  bytes truncated{0x01, 0x05, 'a', 'd'};
  CAF_CHECK(!manager::parse_login(truncated.data(), truncated.size()));
}

CAF_TEST(manager requests golden bytes) {
  manager::request_error err;
  // VER=5 CMD=ADD ULEN=3 "bob" PLEN=3 "pwd"
  bytes add{0x05, 0x00, 0x03, 'b', 'o', 'b', 0x03, 'p', 'w', 'd'};
  auto r = manager::parse_request(add.data(), add.size(), err);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->user.user, "bob");
  CAF_CHECK_EQUAL(r->user.password, "pwd");
  CAF_CHECK(manager::encode_request(*r) == add);
  bytes list{0x05, 0x01};
  CAF_CHECK(manager::parse_request(list.data(), list.size(), err));
  bytes metrics{0x05, 0x02};
  CAF_CHECK(manager::parse_request(metrics.data(), metrics.size(), err));
  // VER=5 CMD=MAXCLIENTS SLEN=4 SIZE=0x00000100 (256)
  bytes maxc{0x05, 0x03, 0x04, 0x00, 0x00, 0x01, 0x00};
  r = manager::parse_request(maxc.data(), maxc.size(), err);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->max_clients, 256u);
  CAF_CHECK(manager::encode_request(*r) == maxc);
  bytes list_with_data{0x05, 0x01, 0x00};
  CAF_CHECK(!manager::parse_request(list_with_data.data(), list_with_data.size(), err));
  CAF_CHECK(err == manager::request_error::malformed);
  bytes bad_slen{0x05, 0x03, 0x02, 0x01, 0x00};
  CAF_CHECK(!manager::parse_request(bad_slen.data(), bad_slen.size(), err));
  bytes unknown{0x05, 0x0A};
  CAF_CHECK(!manager::parse_request(unknown.data(), unknown.size(), err));
  CAF_CHECK(err == manager::request_error::unknown_command);
  bytes wrong_ver{0x04, 0x01};
  CAF_CHECK(!manager::parse_request(wrong_ver.data(), wrong_ver.size(), err));
  CAF_CHECK(err == manager::request_error::malformed);
}

CAF_TEST(manager user management extension golden bytes) {
  manager::request_error err;
  // VER=5 CMD=DEL ULEN=3 "bob"
  bytes del{0x05, 0x04, 0x03, 'b', 'o', 'b'};
  auto r = manager::parse_request(del.data(), del.size(), err);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->cmd, 0x04);
  CAF_CHECK_EQUAL(r->user.user, "bob");
  CAF_CHECK(r->user.password.empty());
  CAF_CHECK(manager::encode_request(*r) == del);
  // VER=5 CMD=PASSWD ULEN=3 "bob" PLEN=2 "pw"
  bytes pw{0x05, 0x05, 0x03, 'b', 'o', 'b', 0x02, 'p', 'w'};
  r = manager::parse_request(pw.data(), pw.size(), err);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->cmd, 0x05);
  CAF_CHECK_EQUAL(r->user.user, "bob");
  CAF_CHECK_EQUAL(r->user.password, "pw");
  CAF_CHECK(manager::encode_request(*r) == pw);
  // Malformed: no name, empty name, short name, trailing bytes; a delete
  // with a password; a password change without one.
  for (auto& bad : {bytes{0x05, 0x04}, bytes{0x05, 0x04, 0x00},
                    bytes{0x05, 0x04, 0x03, 'b', 'o'},
                    bytes{0x05, 0x04, 0x01, 'b', 'x'},
                    bytes{0x05, 0x04, 0x01, 'b', 0x01, 'p'},
                    bytes{0x05, 0x05, 0x01, 'b'}, bytes{0x05, 0x05, 0x01, 'b', 0x00},
                    bytes{0x05, 0x05, 0x01, 'b', 0x02, 'p'},
                    bytes{0x05, 0x05, 0x01, 'b', 0x01, 'p', 'q'}}) {
    CAF_CHECK(!manager::parse_request(bad.data(), bad.size(), err));
    CAF_CHECK(err == manager::request_error::malformed);
  }
  // The code after the last extension (0x09 cluster setting) is still unknown.
  bytes next{0x05, 0x0A};
  CAF_CHECK(!manager::parse_request(next.data(), next.size(), err));
  CAF_CHECK(err == manager::request_error::unknown_command);
  // The new statuses.
  CAF_CHECK(manager::encode_status_reply(0x04, manager::status::no_such_user)
            == (bytes{0x05, 0x04, 0x08}));
  CAF_CHECK(manager::encode_status_reply(0x04, manager::status::forbidden)
            == (bytes{0x05, 0x04, 0x09}));
  CAF_CHECK(manager::encode_status_reply(0x05, manager::status::busy)
            == (bytes{0x05, 0x05, 0x0A}));
  CAF_CHECK_EQUAL(std::string{manager::to_string(manager::status::no_such_user)},
                  "no such user");
}

CAF_TEST(manager reload extension golden bytes) {
  manager::request_error err;
  // VER=5 CMD=RELOAD, no DATA.
  bytes reload{0x05, 0x06};
  auto r = manager::parse_request(reload.data(), reload.size(), err);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->cmd, 0x06);
  CAF_CHECK(r->user.user.empty());
  CAF_CHECK(manager::encode_request(*r) == reload);
  // Any DATA is malformed (as for list and metrics).
  for (auto& bad : {bytes{0x05, 0x06, 0x00}, bytes{0x05, 0x06, 0x01, 'x'}}) {
    CAF_CHECK(!manager::parse_request(bad.data(), bad.size(), err));
    CAF_CHECK(err == manager::request_error::malformed);
  }
  // VER=5 CMD=RELOAD STATUS=0 TLEN=4 "done"
  bytes ok{0x05, 0x06, 0x00, 0x04, 'd', 'o', 'n', 'e'};
  CAF_CHECK(manager::encode_reload_reply(manager::status::ok, "done") == ok);
  auto v = manager::parse_reload_reply(ok.data(), ok.size());
  CAF_REQUIRE(v);
  CAF_CHECK(v->st == manager::status::ok);
  CAF_CHECK_EQUAL(v->text, "done");
  // VER=5 CMD=RELOAD STATUS=0x0B (invalid configuration) TLEN=7 "p.ini:3"
  bytes failed{0x05, 0x06, 0x0B, 0x07, 'p', '.', 'i', 'n', 'i', ':', '3'};
  CAF_CHECK(manager::encode_reload_reply(manager::status::invalid_config, "p.ini:3")
            == failed);
  v = manager::parse_reload_reply(failed.data(), failed.size());
  CAF_REQUIRE(v);
  CAF_CHECK(v->st == manager::status::invalid_config);
  CAF_CHECK_EQUAL(v->text, "p.ini:3");
  CAF_CHECK_EQUAL(std::string{manager::to_string(v->st)}, "invalid configuration");
  // An empty text.
  bytes empty{0x05, 0x06, 0x07, 0x00};
  v = manager::parse_reload_reply(empty.data(), empty.size());
  CAF_REQUIRE(v);
  CAF_CHECK(v->text.empty());
  // Text over 255 bytes is cut.
  auto cut = manager::encode_reload_reply(manager::status::ok, std::string(300, 'x'));
  CAF_CHECK_EQUAL(cut.size(), 4u + 255u);
  CAF_CHECK_EQUAL(cut[3], 255);
  // Truncated, trailing, wrong VER or CMD, and the bare VER CMD STATUS of a
  // malformed request are not reload replies.
  for (auto& bad : {bytes{0x05, 0x06, 0x0B}, bytes{0x05, 0x06, 0x00, 0x02, 'x'},
                    bytes{0x05, 0x06, 0x00, 0x00, 'x'}, bytes{0x04, 0x06, 0x00, 0x00},
                    bytes{0x05, 0x05, 0x00, 0x00}, bytes{0x05, 0x06}})
    CAF_CHECK(!manager::parse_reload_reply(bad.data(), bad.size()));
  // Fed one byte at a time, no prefix parses: only the whole message does.
  for (size_t n = 0; n < ok.size(); ++n)
    CAF_CHECK(!manager::parse_reload_reply(ok.data(), n));
}

CAF_TEST(manager replies golden bytes) {
  CAF_CHECK(manager::encode_status_reply(0x00, manager::status::user_exists)
            == (bytes{0x05, 0x00, 0x04}));
  // HIST=300 (2 bytes) ACTIVE=0 (1 byte) BYTES=0x010000 (3 bytes)
  auto m = manager::encode_metrics_reply(300, 0, 0x010000);
  CAF_CHECK(m == (bytes{0x05, 0x02, 0x02, 0x01, 0x2C, 0x01, 0x00, 0x03, 0x01, 0x00, 0x00}));
  auto back = manager::parse_metrics_reply(m.data(), m.size());
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->historical, 300u);
  CAF_CHECK_EQUAL(back->bytes, 0x010000u);
  auto l = manager::encode_list_reply({"al", "b"});
  CAF_CHECK(l == (bytes{0x05, 0x01, 0x02, 0x02, 'a', 'l', 0x01, 'b'}));
  auto names = manager::parse_list_reply(l.data(), l.size());
  CAF_REQUIRE(names);
  CAF_CHECK_EQUAL(names->size(), 2u);
  std::vector<std::string> many(300, "u");
  auto capped = manager::encode_list_reply(many);
  CAF_CHECK_EQUAL(capped[2], 255);
}

CAF_TEST(manager metrics reply numbers must fit in 64 bits) {
  // HLEN=9 HIST=00 FF..FF (leading zero: fits) ALEN=1 0 BLEN=1 0
  bytes fits{0x05, 0x02, 0x09, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
             0xFF, 0x01, 0x00, 0x01, 0x00};
  auto v = manager::parse_metrics_reply(fits.data(), fits.size());
  CAF_REQUIRE(v);
  CAF_CHECK_EQUAL(v->historical, UINT64_MAX);
  // HLEN=9 HIST=01 00..00 is 2^64: refused, not read as 0 (found by
  // tests/fuzz/manager.cpp).
  bytes too_big{0x05, 0x02, 0x09, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x01, 0x00, 0x01, 0x00};
  CAF_CHECK(!manager::parse_metrics_reply(too_big.data(), too_big.size()));
  // The fuzzer's input: HLEN=17 with a non-zero byte among the leading nine.
  bytes found{0x05, 0x02, 0x11, 0x00, 0x01, 0x00, 0x00, 0x00, 0xFF, 0x0F, 0x00,
              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00,
              0x05, 0x01, 0xD1, 0xD1, 0xD1, 0x00, 0x02, 0x11, 0x00};
  CAF_CHECK(!manager::parse_metrics_reply(found.data(), found.size()));
}

CAF_TEST(manager user stats golden bytes) {
  using bytes = std::vector<uint8_t>;
  manager::request_error err;
  // 05 07 ULEN UNAME; ULEN 0 asks for every user.
  bytes one{0x05, 0x07, 0x03, 'b', 'o', 'b'};
  auto r = manager::parse_request(one.data(), one.size(), err);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->user.user, "bob");
  CAF_CHECK(manager::encode_request(*r) == one);
  bytes all{0x05, 0x07, 0x00};
  r = manager::parse_request(all.data(), all.size(), err);
  CAF_REQUIRE(r);
  CAF_CHECK(r->user.user.empty());
  CAF_CHECK(manager::encode_request(*r) == all);
  for (auto& bad : {bytes{0x05, 0x07}, bytes{0x05, 0x07, 0x02, 'b'},
                    bytes{0x05, 0x07, 0x00, 'x'}}) {
    CAF_CHECK(!manager::parse_request(bad.data(), bad.size(), err));
    CAF_CHECK(err == manager::request_error::malformed);
  }
  // 05 07 00 COUNT { ULEN UNAME 10 x (NLEN NUM) }
  manager::user_counters u;
  u.name = "al";
  u.open = 2;
  u.bytes_up = 300;
  u.bandwidth_down = 1 << 20;
  auto enc = manager::encode_user_stats_reply({u});
  bytes want{0x05, 0x07, 0x00, 0x01, 0x02, 'a', 'l', 1, 2, 1, 0, 2, 0x01, 0x2C, 1, 0,
             1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 3, 0x10, 0x00, 0x00};
  CAF_CHECK(enc == want);
  auto back = manager::parse_user_stats_reply(enc.data(), enc.size());
  CAF_REQUIRE(back && back->size() == 1u);
  CAF_CHECK_EQUAL((*back)[0].name, "al");
  CAF_CHECK_EQUAL((*back)[0].bytes_up, 300u);
  CAF_CHECK_EQUAL((*back)[0].bandwidth_down, uint64_t{1} << 20);
  enc.pop_back();
  CAF_CHECK(!manager::parse_user_stats_reply(enc.data(), enc.size()));
}

CAF_TEST(manager cluster metrics and settings golden bytes) {
  using bytes = std::vector<uint8_t>;
  manager::request_error err;
  bytes ask{0x05, 0x08};
  auto r = manager::parse_request(ask.data(), ask.size(), err);
  CAF_REQUIRE(r);
  CAF_CHECK(manager::encode_request(*r) == ask);
  // 05 08 00 COUNT { NLEN NAME 6 x (LEN NUM) } MISSING { NLEN NAME }
  manager::cluster_metrics_values v;
  v.nodes.push_back(manager::cluster_node_counters{"a", 1, 2, 300, 4, 0, 5});
  v.missing = {"c"};
  auto enc = manager::encode_cluster_metrics_reply(v);
  bytes want{0x05, 0x08, 0x00, 0x01, 0x01, 'a', 1, 1, 1, 2, 2, 0x01, 0x2C,
             1, 4, 1, 0, 1, 5, 0x01, 0x01, 'c'};
  CAF_CHECK(enc == want);
  auto back = manager::parse_cluster_metrics_reply(enc.data(), enc.size());
  CAF_REQUIRE(back && back->nodes.size() == 1u);
  CAF_CHECK_EQUAL(back->nodes[0].bytes_up, 300u);
  CAF_CHECK_EQUAL(back->missing, (std::vector<std::string>{"c"}));
  enc.pop_back();
  CAF_CHECK(!manager::parse_cluster_metrics_reply(enc.data(), enc.size()));
  // 05 09 KIND VLEN VALUE, KIND 1 to 3
  bytes set{0x05, 0x09, 0x01, 0x02, '5', '0'};
  r = manager::parse_request(set.data(), set.size(), err);
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(r->setting, 1u);
  CAF_CHECK_EQUAL(r->value, "50");
  CAF_CHECK(manager::encode_request(*r) == set);
  for (auto& bad : {bytes{0x05, 0x09, 0x04, 0x00}, bytes{0x05, 0x09, 0x01, 0x02, '5'},
                    bytes{0x05, 0x09, 0x01}, bytes{0x05, 0x08, 0x00}}) {
    CAF_CHECK(!manager::parse_request(bad.data(), bad.size(), err));
    CAF_CHECK(err == manager::request_error::malformed);
  }
  bytes unknown{0x05, 0x0A};
  CAF_CHECK(!manager::parse_request(unknown.data(), unknown.size(), err));
  CAF_CHECK(err == manager::request_error::unknown_command);
  // 05 09 00 COUNT { NLEN NAME STATUS } MISSING { NLEN NAME }
  manager::cluster_setting_values sv;
  sv.nodes.push_back({"a", manager::status::ok});
  sv.nodes.push_back({"b", manager::status::forbidden});
  auto senc = manager::encode_cluster_setting_reply(sv);
  bytes swant{0x05, 0x09, 0x00, 0x02, 0x01, 'a', 0x00, 0x01, 'b', 0x09, 0x00};
  CAF_CHECK(senc == swant);
  auto sback = manager::parse_cluster_setting_reply(senc.data(), senc.size());
  CAF_REQUIRE(sback && sback->nodes.size() == 2u);
  CAF_CHECK(sback->nodes[1].st == manager::status::forbidden);
  senc.push_back(0);
  CAF_CHECK(!manager::parse_cluster_setting_reply(senc.data(), senc.size()));
}
