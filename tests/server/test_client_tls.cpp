// aio::HttpClient (libcurl) over HTTPS against grove's own TLS server (grove-hello, on the
// engine under test, as is the client's loop), verifying against the test CA: keep-alive
// requests, a client certificate the application sees, and the certificate errors a client
// must refuse (unknown CA, expired, wrong host), each an HttpError naming the host and
// OpenSSL's reason.
#include "server_support.hpp"
#include "test_certs.hpp"

#include <grove/aio.hpp>

using namespace grove::http::test;
namespace aio = grove::aio;

namespace {

// grove-hello serving `pair` on an https:// bind, client certificates optional.
struct TlsServer {
  TempDir dir;
  Child child;
  int port = -1;
  TlsServer(const grove::test::TestCertificates& certs, const grove::test::CertFiles& pair)
      : child(start_hello(dir.path, {"--certfile", pair.cert, "--keyfile", pair.key, "--ca-certs",
                                     certs.ca.cert, "--cert-reqs", "optional", "--bind",
                                     "127.0.0.1:0", "--bind", "https://127.0.0.1:0"})) {
    const std::string log = child.log();
    auto at = log.find("https://");
    REQUIRE(at != std::string::npos);
    auto end = log.find_first_of(", \n", at);
    port = std::stoi(log.substr(log.rfind(':', end) + 1, end - log.rfind(':', end) - 1));
  }
  std::string url(const std::string& host, const std::string& path) const {
    return "https://" + host + ":" + std::to_string(port) + path;
  }
};

aio::HttpRequest https_get(std::string url, const std::string& ca) {
  aio::HttpRequest r("GET", std::move(url));
  r.tls.ca_file = ca;
  r.timeout = std::chrono::seconds(20);
  return r;
}

// The HttpError's message of a request that must fail.
std::string failure(aio::HttpRequest r) {
  return aio::run([](aio::HttpRequest r) -> aio::Task<std::string> {
    aio::HttpClient http;
    try {
      co_await http.request(std::move(r));
    } catch (const aio::HttpError& e) {
      co_return std::string(e.what());
    }
    co_return "no error";
  }(std::move(r)));
}

}  // namespace

TEST_CASE("aio::HttpClient over HTTPS verifies grove's server against the test CA") {
  grove::test::TestCertificates certs;
  TlsServer server(certs, certs.server);
  auto [tls, big, mine] =
      aio::run([](const TlsServer& s, const grove::test::TestCertificates& c)
                   -> aio::Task<std::tuple<std::string, std::size_t, std::string>> {
        aio::HttpClient http;
        // Concurrent requests on the client's connections, then one more on a kept one.
        auto [a, b] = co_await aio::gather(
            http.request(https_get(s.url("localhost", "/tls"), c.ca.cert)),
            http.request(https_get(s.url("localhost", "/big?n=1000000"), c.ca.cert)));
        aio::HttpRequest with_cert = https_get(s.url("localhost", "/tls"), c.ca.cert);
        with_cert.tls.cert_file = c.client.cert;
        with_cert.tls.key_file = c.client.key;
        aio::HttpResponse m = co_await http.request(std::move(with_cert));
        co_return std::tuple{a.status == 200 ? a.body : "status " + std::to_string(a.status),
                             b.body == std::string(1000000, 'x') ? b.body.size() : 0, m.body};
      }(server, certs));
  CHECK(tls.starts_with("scheme=https\nversion=TLSv1.3\n"));
  CHECK(tls.find("\nsni=localhost\nalpn=http/1.1\nclient=\n") != std::string::npos);
  CHECK(big == 1000000);
  CHECK(mine.find("\nclient=CN=grove test client,O=grove tests\n") != std::string::npos);
  CHECK(mine.find("\nverified=yes\n") != std::string::npos);
}

TEST_CASE("aio::HttpClient refuses an unknown CA, an expired certificate and a wrong host") {
  grove::test::TestCertificates certs;
  SECTION("the system's CAs do not know the test CA") {
    TlsServer server(certs, certs.server);
    std::string e = failure(aio::HttpRequest("GET", server.url("localhost", "/")));
    INFO(e);
    CHECK(e.find("GET https://localhost:") != std::string::npos);
    // The server sends its chain, test CA included: OpenSSL finds a self-signed root.
    CHECK(e.find("the certificate of localhost was not accepted: SSL certificate problem: "
                 "self-signed certificate in certificate chain") != std::string::npos);
    // Unless told not to verify (tests only).
    aio::HttpRequest insecure("GET", server.url("localhost", "/"));
    insecure.tls.verify = false;
    CHECK(failure(std::move(insecure)) == "no error");
  }
  SECTION("expired") {
    TlsServer server(certs, certs.expired);
    std::string e = failure(https_get(server.url("localhost", "/"), certs.ca.cert));
    CHECK(e.find("the certificate of localhost was not accepted: SSL certificate problem: "
                 "certificate has expired") != std::string::npos);
  }
  SECTION("a certificate for another host") {
    TlsServer server(certs, certs.wrong_host);
    std::string e = failure(https_get(server.url("localhost", "/"), certs.ca.cert));
    INFO(e);
    CHECK(e.find("the certificate of localhost was not accepted: ") != std::string::npos);
    CHECK(e.find("'localhost'") != std::string::npos);
  }
}
