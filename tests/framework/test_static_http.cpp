// Static files over real sockets, on every engine: libcurl against the in-process server on
// plain HTTP (where the body goes out with sendfile(2): the server's sendfile_bytes counts
// it) and on HTTPS (pread + TLS records), a raw socket for the traversal payloads that
// curl would normalise away, and pipelined requests after a file body.
#include "http_support.hpp"
#include "python.hpp"
#include "static_support.hpp"
#include "test_certs.hpp"

#include <grove/http/detail/http1.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace grove::web;
using namespace grove::web::test;

namespace {

// The bytes a raw client gets back for `request` on 127.0.0.1:port (read to the close).
std::string raw_exchange(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(std::uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size()));
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, std::size_t(n));
  ::close(fd);
  return out;
}

int port_of(const std::string& base) { return std::stoi(base.substr(base.rfind(':') + 1)); }

// An app serving the tree's folder, plus /sendfile-bytes: the server's counter, read on the
// server's own thread.
struct Served {
  StaticTree tree;
  App app;
  std::unique_ptr<ServedApp> served;
  explicit Served(std::function<void(grove::http::ServerConfig&)> tweak = {}) {
    tree.write("static/big.bin", StaticTree::digits(8 << 20));
    app.serve_static(tree.folder());
    app.route("/sendfile-bytes",
              [this] { return std::to_string(served->server().stats().sendfile_bytes); });
    served = std::make_unique<ServedApp>(app, std::move(tweak));
  }
};

}  // namespace

TEST_CASE("web: http: an 8 MiB static file goes out with sendfile, whole and in ranges",
          "[http][static][tsan]") {
  Served s;
  const std::string all = StaticTree::digits(8 << 20);
  auto r = http_get(s.served->url("/static/big.bin"));
  REQUIRE(r.error.empty());
  CHECK(r.status == 200);
  CHECK(r.body.size() == all.size());
  CHECK(r.body == all);
  CHECK(r.header("Content-Type") == "application/octet-stream");
  CHECK(std::stoull(http_get(s.served->url("/sendfile-bytes")).body) >= all.size());

  auto part = http({"GET", s.served->url("/static/big.bin"), {"Range: bytes=1000000-1000099"}});
  CHECK(part.status == 206);
  CHECK(part.body == all.substr(1000000, 100));
  CHECK(part.header("Content-Range") == "bytes 1000000-1000099/8388608");
  CHECK(http({"GET", s.served->url("/static/big.bin"), {"Range: bytes=9000000-"}}).status == 416);

  auto head = http({"HEAD", s.served->url("/static/big.bin")});
  CHECK(head.status == 200);
  CHECK(head.header("Content-Length") == "8388608");
  CHECK(head.body.empty());

  auto again =
      http({"GET",
            s.served->url("/static/hello.txt"),
            {"If-None-Match: " + http_get(s.served->url("/static/hello.txt")).header("ETag")}});
  CHECK(again.status == 304);
  CHECK(again.body.empty());
}

TEST_CASE(
    "web: http: several ranges of an 8 MiB file come as multipart/byteranges to libcurl and python "
    "requests",
    "[http][static][range]") {
  Served s;
  const std::string all = StaticTree::digits(8 << 20);
  auto r = http({"GET", s.served->url("/static/big.bin"), {"Range: bytes=0-9,1000000-2999999,-7"}});
  REQUIRE(r.error.empty());
  CHECK(r.status == 206);
  CHECK(r.header("Content-Length") == std::to_string(r.body.size()));
  auto parts = split_byteranges(r.body, byteranges_boundary(r.header("Content-Type")));
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].data == all.substr(0, 10));
  CHECK(parts[1].content_range == "bytes 1000000-2999999/8388608");
  CHECK(parts[1].data == all.substr(1000000, 2000000));
  CHECK(parts[2].content_range == "bytes 8388601-8388607/8388608");
  CHECK(parts[2].data == all.substr(8388601));

  // python3-requests, the parts read by Python's own MIME parser (the email package).
  const std::string script = R"PY(
import email, hashlib, json, sys, requests
r = requests.get(sys.argv[1], headers={"Range": "bytes=5-14,4194304-4194311,8388600-"}, timeout=10)
msg = email.message_from_bytes(b"Content-Type: " + r.headers["Content-Type"].encode() + b"\r\n\r\n" + r.content)
parts = [{"range": p["Content-Range"], "type": p["Content-Type"],
          "data": p.get_payload(decode=True).decode()} for p in msg.get_payload()]
print(json.dumps({"status": r.status_code, "multipart": msg.is_multipart(),
                  "length": int(r.headers["Content-Length"]) == len(r.content), "parts": parts}))
)PY";
  int status = -1;
  std::string out = output_of(
      grove::test::python3() + " -c '" + script + "' " + s.served->url("/static/big.bin"), &status);
  INFO(out);
  CHECK(status == 0);
  Json result = Json::parse(out);
  CHECK(result["status"].as_int() == 206);
  CHECK(result["multipart"].as_bool());
  CHECK(result["length"].as_bool());
  const Json::Array& got = result["parts"].as_array();
  REQUIRE(got.size() == 3);
  CHECK(got[0].at("range").as_string() == "bytes 5-14/8388608");
  CHECK(got[0].at("type").as_string() == "application/octet-stream");
  CHECK(got[0].at("data").as_string() == all.substr(5, 10));
  CHECK(got[1].at("data").as_string() == all.substr(4194304, 8));
  CHECK(got[2].at("range").as_string() == "bytes 8388600-8388607/8388608");
  CHECK(got[2].at("data").as_string() == all.substr(8388600));
}

TEST_CASE("web: http: several clients at once get their files", "[http][static]") {
  Served s;
  const std::string all = StaticTree::digits(8 << 20);
  std::vector<CurlRequest> many;
  for (int i = 0; i < 6; ++i)
    many.push_back({"GET", s.served->url(i % 2 ? "/static/big.bin" : "/static/css/app.css")});
  auto results = http_parallel(many);
  for (std::size_t i = 0; i < results.size(); ++i) {
    INFO(i << " " << results[i].error);
    CHECK(results[i].status == 200);
    CHECK(results[i].body == (i % 2 ? all : std::string("body { color: green; }\n")));
  }
}

TEST_CASE("web: http: pipelined requests after a file body are framed right", "[http][static]") {
  Served s;
  std::string out =
      raw_exchange(port_of(s.served->base()),
                   "GET /static/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /static/data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\n\r\n"
                   "GET /static/css/app.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  auto first = grove::http::detail::parse_response(out);
  REQUIRE(first);
  CHECK(first->body == "Hello, static world!\n");
  out.erase(0, first->size);
  auto second = grove::http::detail::parse_response(out);
  REQUIRE(second);
  CHECK(second->status == 206);
  CHECK(second->body == "0123456789");
  out.erase(0, second->size);
  auto third = grove::http::detail::parse_response(out);
  REQUIRE(third);
  CHECK(third->body == "body { color: green; }\n");
}

TEST_CASE("web: http: traversal payloads on the wire are 404 or 400 and the server carries on",
          "[http][static][security]") {
  Served s;
  const int port = port_of(s.served->base());
  for (std::string path :
       {"/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/%2e%2e%2fsecret.txt",
        "/static/css/../../secret.txt", "/static/..%5c..%5csecret.txt", "/static/escape.txt",
        "/static/absolute.txt", "/static/etc/passwd", "/static//etc/passwd",
        "/static/%2fetc%2fpasswd", "/static/hello.txt%00", "/static/fifo",
        "/static/....//....//secret.txt"}) {
    INFO(path);
    std::string out =
        raw_exchange(port, "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    auto r = grove::http::detail::parse_response(out);
    REQUIRE(r);
    CHECK((r->status == 404 || r->status == 400));
    CHECK(out.find("top secret") == std::string::npos);
    CHECK(out.find("root:") == std::string::npos);
  }
  CHECK(http_get(s.served->url("/static/hello.txt")).body == "Hello, static world!\n");
}

TEST_CASE("web: http: static files over HTTPS are read and written through TLS records",
          "[http][static][tls]") {
  grove::test::TestCertificates certs;
  grove::http::TlsConfig tls;
  tls.certificate = {certs.server.cert, certs.server.key};
  Served s([&](grove::http::ServerConfig& c) {
    c.binds = {"https://127.0.0.1:0"};
    c.tls = std::make_shared<grove::http::TlsContext>(tls);
  });
  const std::string url = "https://localhost:" + std::to_string(port_of(s.served->base()));
  const std::string all = StaticTree::digits(8 << 20);
  auto get = [&](const std::string& path, std::vector<std::string> headers = {}) {
    detail_http::Transfer t(CurlRequest{"GET", url + path, std::move(headers)});
    curl_easy_setopt(t.easy, CURLOPT_CAINFO, certs.ca.cert.c_str());
    t.finish(curl_easy_perform(t.easy));
    return std::move(t.result);
  };
  auto r = get("/static/big.bin");
  INFO(r.error);
  CHECK(r.status == 200);
  CHECK(r.body == all);
  auto part = get("/static/big.bin", {"Range: bytes=-10"});
  CHECK(part.status == 206);
  CHECK(part.body == all.substr(all.size() - 10));
  CHECK(get("/sendfile-bytes").body == "0");  // nothing went around TLS
}
