// A raw SCTP-over-UDP admin client for the hardening tests (usrsctp through
// net/'s client, the same code as proxyctl), doing what proxyctl never does:
//
//   admin_probe [--host A] [--port N] [--udp-port N] [--timeout MS]
//               [--source ADDR] COMMAND
//     flood SECONDS   sends SPCP `02 00` as fast as it can for SECONDS and
//                     never reads; prints how many went out
//     idle SECONDS    sends nothing; prints when the server closed the
//                     association (exit 0), or that it did not (exit 1)
//     send HEX...     sends each message (hex bytes), prints each reply in hex
//                     with the milliseconds it took; stops when the server
//                     closes (prints "closed")
// Exit 4 when the association cannot be set up.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "net/sctp.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::string to_hex(const std::vector<uint8_t>& bytes) {
  std::string out;
  char buf[3];
  for (auto b : bytes) {
    std::snprintf(buf, sizeof(buf), "%02x", b);
    out += buf;
  }
  return out;
}

int flood(px::net::sctp_client& c, double seconds) {
  const std::vector<uint8_t> msg{0x02, 0x00};
  auto t0 = clock_type::now();
  long sent = 0;
  long stalls = 0;
  while (since(t0) < seconds) {
    if (c.send(msg))
      ++sent;
    else if (c.error().rfind("timed out", 0) == 0)
      ++stalls; // the server stopped reading: back-pressure
    else
      break;
  }
  std::printf("sent %ld messages in %.1f s, %ld stalls, last error: %s\n", sent,
              since(t0), stalls, c.error().c_str());
  return 0;
}

int idle(px::net::sctp_client& c, double seconds) {
  auto t0 = clock_type::now();
  std::vector<uint8_t> in;
  while (since(t0) < seconds) {
    if (c.receive(in, 200))
      continue; // nothing is expected; ignore it
    if (c.error() != "timed out waiting for a reply") {
      std::printf("closed after %.2f s: %s\n", since(t0), c.error().c_str());
      return 0;
    }
  }
  std::printf("still open after %.2f s\n", since(t0));
  return 1;
}

int send_all(px::net::sctp_client& c, const std::vector<std::string>& hexes,
             int timeout_ms) {
  for (auto& h : hexes) {
    auto t0 = clock_type::now();
    std::vector<uint8_t> in;
    if (!c.send(from_hex(h)) || !c.receive(in, timeout_ms)) {
      std::printf("closed after %.0f ms: %s\n", since(t0) * 1000, c.error().c_str());
      return 0;
    }
    std::printf("%s -> %s %.0f ms\n", h.c_str(), to_hex(in).c_str(), since(t0) * 1000);
    std::fflush(stdout);
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 9090;
  int udp_port = 9899;
  int timeout_ms = 5000;
  std::optional<px::net::ip_endpoint> source;
  int i = 1;
  for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
    std::string opt = argv[i];
    if (opt == "--host")
      host = argv[i + 1];
    else if (opt == "--port")
      port = std::atoi(argv[i + 1]);
    else if (opt == "--udp-port")
      udp_port = std::atoi(argv[i + 1]);
    else if (opt == "--timeout")
      timeout_ms = std::atoi(argv[i + 1]);
    else if (opt == "--source")
      source = px::net::ip_endpoint::parse(argv[i + 1], 0);
  }
  if (i >= argc) {
    std::fprintf(stderr, "usage: admin_probe [options] flood S | idle S | send HEX...\n");
    return 2;
  }
  auto server = px::net::ip_endpoint::parse(host, port);
  if (!server)
    return 2;
  std::string err;
  auto c = px::net::connect_udp_sctp(*server, static_cast<uint16_t>(udp_port),
                                     timeout_ms, err, source);
  if (!c) {
    std::printf("no association: %s\n", err.c_str());
    return 4;
  }
  std::string cmd = argv[i++];
  if (cmd == "flood" && i < argc)
    return flood(*c, std::atof(argv[i]));
  if (cmd == "idle" && i < argc)
    return idle(*c, std::atof(argv[i]));
  if (cmd == "send")
    return send_all(*c, std::vector<std::string>(argv + i, argv + argc), timeout_ms);
  return 2;
}
