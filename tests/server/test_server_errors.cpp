// Bad input gets the right status over a raw socket, the connection closes after every
// refused request (nothing after it is read), and the server carries on. Application
// failures get 500 and a logged traceback without disturbing other requests.
#include "server_support.hpp"

using namespace grove::http;
using namespace grove::http::test;

namespace {

std::atomic<int> g_calls{0};

Response counting(Request& req) {
  ++g_calls;
  if (req.path() == "/throw") throw std::runtime_error("boom from the application");
  if (req.path() == "/throw-int") throw 42;
  if (req.path() == "/bad-header") {
    Response r = Response::text("x");
    r.headers.add("X-Split", "a\r\nInjected: yes");
    return r;
  }
  if (req.path() == "/bad-status") return Response(42);
  if (req.path() == "/http-error") throw HttpError(409, "conflict from the app");
  return Response::text(std::string(req.path()) + ":" + req.read_body());
}

// Sends `bytes`, expects a response with `status`, then the connection closed, with no
// response for anything after the refused request.
void expect_refused(int port, const std::string& bytes, int status) {
  INFO("request: " << bytes.substr(0, 200));
  Socket s = Socket::tcp(port);
  s.try_send(bytes);
  bool closed = false;
  std::string all = s.recv_all(5000ms, &closed);
  CHECK(closed);
  REQUIRE(all.size() >= 12);
  CHECK(all.substr(0, 12) == "HTTP/1.1 " + std::to_string(status));
  CHECK(all.find("Connection: close") != std::string::npos);
  // Exactly one response: the smuggled remainder was never parsed.
  CHECK(all.find("\nHTTP/1.1 ") == std::string::npos);
}

const char* kNext = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";

}  // namespace

TEST_CASE("malformed requests get 400 and the connection closes") {
  ServerThread st(counting);
  const std::string cases[] = {
      "GET  / HTTP/1.1\r\nHost: t\r\n\r\n",
      "GET / HTTP/1.1\nHost: t\r\n\r\n",  // bare LF
      "GET / HTTP/1.1\r\nHost: t\nX: y\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n",                   // bare CR
      "GET / HTTP/1.1\r\nHost: t\r\nX : y\r\n\r\n",                     // space before colon
      "GET / HTTP/1.1\r\nHost: t\r\nX: y\r\n folded\r\n\r\n",           // obs-fold
      std::string("GET / HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n", 35),  // NUL
      "GET / HTTP/1.1\r\n\r\n",                                         // no Host
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",                   // two Hosts
      "GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n",
      "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",  // TLS on the plain port
  };
  for (const auto& c : cases) expect_refused(st.port(), c + kNext, 400);
}

TEST_CASE("request smuggling vectors get 400 (or 501) and nothing after them is read") {
  ServerThread st(counting);
  g_calls = 0;
  // CL.TE and TE.CL
  expect_refused(st.port(),
                 "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: "
                 "chunked\r\n\r\n0\r\n\r\nX" +
                     std::string(kNext),
                 400);
  expect_refused(st.port(),
                 "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: "
                 "3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n" +
                     std::string(kNext),
                 400);
  // Conflicting duplicate Content-Length; Content-Length with a sign or spaces.
  expect_refused(
      st.port(),
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc" +
          std::string(kNext),
      400);
  expect_refused(st.port(),
                 "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc" + std::string(kNext),
                 400);
  expect_refused(
      st.port(),
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3 0\r\n\r\nabc" + std::string(kNext), 400);
  // Transfer codings.
  expect_refused(
      st.port(),
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" +
          std::string(kNext),
      400);
  expect_refused(st.port(),
                 "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" +
                     std::string(kNext),
                 501);
  expect_refused(st.port(),
                 "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                 "chunked\r\n\r\n0\r\n\r\n" +
                     std::string(kNext),
                 400);
  expect_refused(
      st.port(),
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + std::string(kNext), 400);
  // Chunk sizes: invalid, overflowing, with a bad extension or bare LF.
  for (const char* body : {"z\r\nabc\r\n0\r\n\r\n", "ffffffffffffffffffff1\r\nabc\r\n0\r\n\r\n",
                           "3;a b\r\nabc\r\n0\r\n\r\n", "3\nabc\r\n0\r\n\r\n",
                           "3\r\nabc\n0\r\n\r\n", "-1\r\nabc\r\n0\r\n\r\n"}) {
    // The head is fine, so the application runs; its body read fails with 400.
    expect_refused(st.port(),
                   std::string("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n") +
                       body + kNext,
                   400);
  }
  // No request was ever answered as /smuggled.
  Socket check = Socket::tcp(st.port());
  CHECK(get(st.port(), "/alive").body == "/alive:");
}

TEST_CASE("size limits: 414 for the request line, 431 for the header section") {
  ServerThread st(counting);
  expect_refused(st.port(), "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n", 414);
  std::string many;
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  expect_refused(st.port(), "GET / HTTP/1.1\r\nHost: t\r\n" + many + "\r\n", 431);
  expect_refused(st.port(),
                 "GET / HTTP/1.1\r\nHost: t\r\nX: " + std::string(70000, 'h') + "\r\n\r\n", 431);
  // Refused before the client has finished sending: a 2 MB header line is cut short.
  Socket s = Socket::tcp(st.port());
  s.send("GET / HTTP/1.1\r\nHost: t\r\nX: ");
  std::string junk(64 * 1024, 'j');
  for (int i = 0; i < 30 && s.try_send(junk); ++i) {
  }
  bool closed = false;
  std::string all = s.recv_all(5000ms, &closed);
  CHECK(all.rfind("HTTP/1.1 431", 0) == 0);
}

TEST_CASE("HTTP/2 gets a clean refusal: 505 with a message, then close") {
  ServerThread st(counting);
  Socket s = Socket::tcp(st.port());
  // The preface followed by an empty SETTINGS frame, as an h2 client sends it.
  std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  preface += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
  s.try_send(preface);
  bool closed = false;
  std::string all = s.recv_all(5000ms, &closed);
  CHECK(closed);
  CHECK(all.rfind("HTTP/1.1 505", 0) == 0);
  CHECK(all.find("HTTP/2") != std::string::npos);
  expect_refused(st.port(), "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
}

TEST_CASE("CONNECT gets 501 and an unknown expectation gets 417") {
  ServerThread st(counting);
  expect_refused(st.port(), "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                 501);
  expect_refused(st.port(),
                 "POST / HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417);
}

TEST_CASE(
    "an exception in the application gets 500 and the connection and other requests carry on") {
  ServerThread st(counting);
  Socket s = Socket::tcp(st.port());
  s.send(
      "GET /throw HTTP/1.1\r\nHost: t\r\n\r\nGET /throw-int HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /bad-header HTTP/1.1\r\nHost: t\r\n\r\nGET /bad-status HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /http-error HTTP/1.1\r\nHost: t\r\n\r\nGET /fine HTTP/1.1\r\nHost: t\r\n\r\n");
  ResponseReader rr(s);
  for (int expect : {500, 500, 500, 500, 409, 200}) {
    auto r = rr.next();
    REQUIRE(r);
    CHECK(r->status == expect);
    CHECK_FALSE(r->has("injected"));
  }
  CHECK(get(st.port(), "/other").status == 200);
  st.stop();
  CHECK(st.final_stats().errors_5xx == 4);
}

TEST_CASE("the traceback of an application exception is logged with the request") {
  std::string dir = temp_dir();
  Log::open_error_log(dir + "/error.log");
  auto level = Log::level();
  Log::set_level(LogLevel::error);
  {
    ServerThread st(counting);
    CHECK(get(st.port(), "/throw").status == 500);
  }
  Log::open_error_log("-");
  Log::set_level(level);
  std::string log = read_file(dir + "/error.log");
  CHECK(log.find("[error] exception in the application while serving GET /throw") !=
        std::string::npos);
  CHECK(log.find("std::runtime_error: boom from the application") != std::string::npos);
  std::remove((dir + "/error.log").c_str());
  ::rmdir(dir.c_str());
}
