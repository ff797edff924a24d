// The framework over HTTPS: request.scheme, request.is_secure, url_for's _external URLs and
// the client certificate, as libcurl sees them through grove's TLS server (and the test
// client's stand-in for TLS).
#include "http_support.hpp"
#include "test_certs.hpp"

#include <grove/http/tls.hpp>

using namespace grove::web;
using namespace grove::web::test;

namespace {

// What a view knows of the connection, as JSON.
void build(App& app) {
  app.route(
      "/facts", {"GET"},
      [](Request& r) {
        Json facts{{"scheme", r.scheme()},
                   {"secure", r.is_secure()},
                   {"url", r.url()},
                   {"external", url_for("facts", {{"_external", true}})}};
        if (const grove::http::TlsFacts* t = r.tls()) {
          facts["version"] = t->version;
          facts["subject"] = t->client_subject;
          facts["issuer"] = t->client_issuer;
          facts["verified"] = t->client_verified;
        }
        return facts;
      },
      "facts");
}

struct HttpsApp {
  grove::test::TestCertificates certs;
  App app;
  std::optional<ServedApp> served;
  HttpsApp() {
    build(app);
    grove::http::TlsConfig tls;
    tls.certificate = {certs.server.cert, certs.server.key};
    tls.client_certs = grove::http::ClientCerts::optional;
    tls.ca_file = certs.ca.cert;
    served.emplace(app, [&](grove::http::ServerConfig& c) {
      c.binds = {"https://127.0.0.1:0"};
      c.tls = std::make_shared<grove::http::TlsContext>(tls);
    });
  }
  Json get(bool client_cert) {
    CurlRequest r;
    r.url = served->url("/facts");
    r.ca_file = certs.ca.cert;
    if (client_cert) {
      r.cert_file = certs.client.cert;
      r.key_file = certs.client.key;
    }
    HttpResult res = http(r);
    INFO(res.error);
    REQUIRE(res.status == 200);
    return Json::parse(res.body);
  }
};

}  // namespace

TEST_CASE("web: https: request.scheme, is_secure and url_for(_external) say https", "[http][tls]") {
  HttpsApp s;
  REQUIRE(s.served->base().starts_with("https://127.0.0.1:"));
  Json facts = s.get(false);
  CHECK(facts.at("scheme").as_string() == "https");
  CHECK(facts.at("secure").as_bool());
  CHECK(facts.at("url").as_string() == s.served->url("/facts"));
  CHECK(facts.at("external").as_string() == s.served->url("/facts"));
  CHECK(facts.at("version").as_string().starts_with("TLSv1."));
  CHECK(facts.at("subject").as_string() == "");
  CHECK(!facts.at("verified").as_bool());
}

TEST_CASE("web: https: the client certificate's subject and issuer, verified", "[http][tls]") {
  HttpsApp s;
  Json facts = s.get(true);
  CHECK(facts.at("subject").as_string() == "CN=grove test client,O=grove tests");
  CHECK(facts.at("issuer").as_string() == "CN=grove test CA,O=grove tests");
  CHECK(facts.at("verified").as_bool());
}

TEST_CASE("web: https: plain HTTP says http and has no TLS facts", "[http][tls]") {
  App app;
  build(app);
  ServedApp served(app);
  HttpResult res = http_get(served.url("/facts"));
  REQUIRE(res.status == 200);
  Json facts = Json::parse(res.body);
  CHECK(facts.at("scheme").as_string() == "http");
  CHECK(!facts.at("secure").as_bool());
  CHECK(facts.at("external").as_string() == served.url("/facts"));
  CHECK(!facts.contains("version"));
}

TEST_CASE("web: https: the test client stands in for TLS with given facts", "[http][tls]") {
  App app;
  build(app);
  TestClient client(app);
  RequestOptions over_tls;
  over_tls.tls.emplace();
  over_tls.tls->version = "TLSv1.3";
  over_tls.tls->client_subject = "CN=ann";
  over_tls.tls->client_verified = true;
  Json facts = Json::parse(client.get("/facts", std::move(over_tls)).body);
  CHECK(facts.at("scheme").as_string() == "https");
  CHECK(facts.at("secure").as_bool());
  CHECK(facts.at("external").as_string() == "https://localhost/facts");
  CHECK(facts.at("subject").as_string() == "CN=ann");
  CHECK(facts.at("verified").as_bool());
  CHECK(Json::parse(client.get("/facts").body).at("scheme").as_string() == "http");
}
