// The WebSocket opening handshake (RFC 6455 §4.2) and permessage-deflate negotiation
// (RFC 7692 §7.1): check_handshake(), accept_headers(), refusal().
#include <grove/http/websocket.hpp>

#include <catch2/catch.hpp>

using namespace grove::http;

namespace {

Request upgrade(std::initializer_list<std::pair<std::string_view, std::string_view>> extra = {},
                std::string_view method = "GET", Version version = {}) {
  Headers h{{"Host", "example.com"},
            {"Upgrade", "websocket"},
            {"Connection", "Upgrade"},
            {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
            {"Sec-WebSocket-Version", "13"}};
  for (auto [name, value] : extra) h.set(name, value);
  return Request(method, "/chat", std::move(h), {}, version);
}

Request with_extensions(std::string_view ext) {
  Request r = upgrade();
  r.headers().add("Sec-WebSocket-Extensions", ext);
  return r;
}

}  // namespace

TEST_CASE("ws: the accept key of RFC 6455's example") {
  CHECK(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("ws: a valid upgrade is accepted with the 101 fields") {
  auto req = upgrade({{"Origin", "http://example.com"},
                      {"Connection", "keep-alive, Upgrade"},
                      {"Upgrade", "WebSocket"}});
  auto hs = ws::check_handshake(req);
  REQUIRE(hs.ok());
  CHECK(hs.accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(hs.origin == "http://example.com");
  CHECK(hs.protocol.empty());
  CHECK_FALSE(hs.deflate);
  auto h = ws::accept_headers(hs);
  CHECK(h.get("upgrade") == std::optional<std::string_view>("websocket"));
  CHECK(h.get("connection") == std::optional<std::string_view>("Upgrade"));
  CHECK(h.get("sec-websocket-accept") ==
        std::optional<std::string_view>("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
  CHECK_FALSE(h.contains("sec-websocket-protocol"));
  CHECK_FALSE(h.contains("sec-websocket-extensions"));
  CHECK(ws::is_upgrade(req));
  CHECK_FALSE(ws::is_upgrade(Request("GET", "/")));
}

TEST_CASE("ws: a version other than 13 gets 426 with Sec-WebSocket-Version") {
  for (std::string_view v : {"8", "14", "", "13, 8"}) {
    auto hs = ws::check_handshake(upgrade({{"Sec-WebSocket-Version", v}}));
    CHECK(hs.status == 426);
    auto r = ws::refusal(hs);
    CHECK(r.status == 426);
    CHECK(r.headers.get("sec-websocket-version") == std::optional<std::string_view>("13"));
    CHECK(r.headers.get("connection") == std::optional<std::string_view>("close"));
  }
  Request no_version = upgrade();
  no_version.headers().erase("Sec-WebSocket-Version");
  CHECK(ws::check_handshake(no_version).status == 426);
}

TEST_CASE("ws: malformed upgrades get 400 and say why") {
  auto status = [](const Request& r) { return ws::check_handshake(r).status; };
  CHECK(status(upgrade({}, "POST")) == 400);
  CHECK(status(upgrade({}, "GET", Version{1, 0})) == 400);
  CHECK(status(upgrade({{"Connection", "keep-alive"}})) == 400);
  CHECK(status(upgrade({{"Upgrade", "h2c"}})) == 400);
  CHECK(status(upgrade({{"Sec-WebSocket-Key", "short"}})) == 400);
  CHECK(status(upgrade({{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ"}})) == 400);  // no padding
  CHECK(status(upgrade({{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub2!jZQ=="}})) == 400);
  Request two_keys = upgrade();
  two_keys.headers().add("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==");
  CHECK(status(two_keys) == 400);
  auto hs = ws::check_handshake(upgrade({{"Sec-WebSocket-Key", "short"}}));
  CHECK(hs.error.find("Sec-WebSocket-Key") != std::string::npos);
  auto r = ws::refusal(hs);
  CHECK(r.status == 400);
  CHECK(r.body.find("Sec-WebSocket-Key") != std::string::npos);
  CHECK_FALSE(r.headers.contains("sec-websocket-version"));
}

TEST_CASE("ws: the subprotocol is the server's first choice the client offered") {
  ws::Options opts;
  opts.subprotocols = {"chat.v2", "chat"};
  Request req = upgrade({{"Sec-WebSocket-Protocol", "chat, superchat"}});
  req.headers().add("Sec-WebSocket-Protocol", "chat.v2");
  auto hs = ws::check_handshake(req, opts);
  REQUIRE(hs.ok());
  CHECK(hs.offered_protocols == std::vector<std::string>{"chat", "superchat", "chat.v2"});
  CHECK(hs.protocol == "chat.v2");
  CHECK(ws::accept_headers(hs).get("sec-websocket-protocol") ==
        std::optional<std::string_view>("chat.v2"));
  auto none = ws::check_handshake(upgrade({{"Sec-WebSocket-Protocol", "mqtt"}}), opts);
  REQUIRE(none.ok());
  CHECK(none.protocol.empty());
  CHECK_FALSE(ws::accept_headers(none).contains("sec-websocket-protocol"));
}

TEST_CASE("ws: permessage-deflate negotiation") {
  SECTION("a plain offer is accepted with defaults") {
    auto hs = ws::check_handshake(with_extensions("permessage-deflate; client_max_window_bits"));
    REQUIRE(hs.deflate);
    CHECK(hs.deflate->server_max_window_bits == 15);
    CHECK(hs.deflate->client_max_window_bits == 15);
    CHECK(hs.deflate->response() == "permessage-deflate");
  }
  SECTION("the client's limits are honoured and echoed") {
    auto hs = ws::check_handshake(with_extensions(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=\"12\""));
    REQUIRE(hs.deflate);
    CHECK(hs.deflate->server_no_context_takeover);
    CHECK(hs.deflate->client_no_context_takeover);
    CHECK(hs.deflate->server_max_window_bits == 10);
    CHECK(hs.deflate->client_max_window_bits == 12);
    CHECK(hs.deflate->response() ==
          "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
          "server_max_window_bits=10; client_max_window_bits=12");
    CHECK(ws::accept_headers(hs).get("sec-websocket-extensions") ==
          std::optional<std::string_view>(hs.deflate->response()));
  }
  SECTION("the server's own limits apply; client_max_window_bits only when offered") {
    ws::Options opts;
    opts.deflate.server_max_window_bits = 11;
    opts.deflate.client_max_window_bits = 9;
    opts.deflate.server_no_context_takeover = true;
    auto hs = ws::check_handshake(with_extensions("permessage-deflate"), opts);
    REQUIRE(hs.deflate);
    CHECK(hs.deflate->response() ==
          "permessage-deflate; server_no_context_takeover; server_max_window_bits=11");
    auto offered =
        ws::check_handshake(with_extensions("permessage-deflate; client_max_window_bits"), opts);
    REQUIRE(offered.deflate);
    CHECK(offered.deflate->client_max_window_bits == 9);
  }
  SECTION("bad offers are declined and the next one tried") {
    for (std::string_view bad :
         {"permessage-deflate; server_max_window_bits=8",
          "permessage-deflate; server_max_window_bits",
          "permessage-deflate; server_max_window_bits=16",
          "permessage-deflate; client_max_window_bits=7",
          "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
          "permessage-deflate; server_no_context_takeover=1", "permessage-deflate; unknown=1",
          "x-webkit-deflate-frame"}) {
      INFO(bad);
      CHECK_FALSE(ws::check_handshake(with_extensions(bad)).deflate);
      auto fallback = ws::check_handshake(
          with_extensions(std::string(bad) + ", permessage-deflate; server_max_window_bits=12"));
      REQUIRE(fallback.deflate);
      CHECK(fallback.deflate->server_max_window_bits == 12);
    }
  }
  SECTION("disabled by the server") {
    ws::Options opts;
    opts.deflate.enabled = false;
    CHECK_FALSE(ws::check_handshake(with_extensions("permessage-deflate"), opts).deflate);
  }
}

TEST_CASE("ws: close codes a peer may send") {
  for (std::uint16_t c :
       {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999})
    CHECK(ws::valid_close_code(c));
  for (std::uint16_t c : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535})
    CHECK_FALSE(ws::valid_close_code(c));
}
