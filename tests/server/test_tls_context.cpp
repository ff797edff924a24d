// The TLS context: start-up errors that name the file and the problem, settings checked
// before serving, and reload (new handshakes get the new pair; a bad pair keeps the old).
#include "test_certs.hpp"
#include "tls_support.hpp"

#include <grove/http/tls.hpp>

#include <catch2/catch.hpp>

#include <openssl/err.h>

#include <filesystem>
#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

using namespace grove::http;
using grove::test::TestCertificates;

namespace {

TlsConfig config_for(const grove::test::CertFiles& pair) {
  TlsConfig c;
  c.certificate = {pair.cert, pair.key};
  return c;
}

// The TlsError message for `config`, or "" when it loads.
std::string error_of(const TlsConfig& config) {
  try {
    TlsContext context(config);
    return "";
  } catch (const TlsError& e) {
    return e.what();
  }
}

// The common name of the certificate a client gets from `context` for `sni`.
std::string served_cn(const TlsContext& context, const std::string& sni = "localhost") {
  test::MemoryClient client;
  client.sni = sni;
  detail::TlsSession server(context);
  std::string failure = test::handshake(client, server);
  if (!failure.empty()) return "failed: " + failure;
  X509* cert = SSL_get0_peer_certificate(client.ssl());
  char cn[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  return cn;
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("a missing certificate or key file stops start-up naming the file") {
  TestCertificates certs;
  TlsConfig c = config_for(certs.server);
  c.certificate.cert_file = certs.dir() + "/nothing.pem";
  std::string e = error_of(c);
  CHECK(e.find("certificate file " + certs.dir() + "/nothing.pem: no such file") != e.npos);

  c = config_for(certs.server);
  c.certificate.key_file = certs.dir() + "/nothing.key";
  e = error_of(c);
  CHECK(e.find("key file " + certs.dir() + "/nothing.key: no such file") != e.npos);

  c.certificate.key_file = "";
  CHECK(error_of(c).find("no key file given") != std::string::npos);
}

TEST_CASE("an unreadable file or a directory or a non-PEM file stops start-up saying so") {
  TestCertificates certs;
  TlsConfig c = config_for(certs.server);
  c.certificate.key_file = certs.dir();
  CHECK(error_of(c).find("key file " + certs.dir() + ": is a directory") != std::string::npos);

  write_file(certs.dir() + "/junk.pem", "not a certificate\n");
  c = config_for(certs.server);
  c.certificate.cert_file = certs.dir() + "/junk.pem";
  CHECK(error_of(c).find("certificate file " + certs.dir() + "/junk.pem: not a PEM certificate") !=
        std::string::npos);

  c = config_for(certs.server);
  c.certificate.key_file = certs.dir() + "/junk.pem";
  CHECK(error_of(c).find("key file " + certs.dir() +
                         "/junk.pem: not an unencrypted PEM private key") != std::string::npos);

  // Permissions do not bind root (CI runs as root): only checked as another user.
  if (::geteuid() != 0) {
    ::chmod(certs.server.key.c_str(), 0);
    c = config_for(certs.server);
    CHECK(error_of(c).find("key file " + certs.server.key +
                           ": cannot read it: Permission denied") != std::string::npos);
  }
  CHECK(ERR_peek_error() == 0);  // nothing left on the thread's error queue
}

TEST_CASE("a key that does not match its certificate stops start-up naming both files") {
  TestCertificates certs;
  TlsConfig c = config_for(certs.server);
  c.certificate.key_file = certs.client.key;
  CHECK(error_of(c) == "TLS: key file " + certs.client.key + " does not match certificate file " +
                           certs.server.cert);
}

TEST_CASE("settings that cannot serve are refused before serving") {
  TestCertificates certs;
  TlsConfig c = config_for(certs.server);
  c.min_version = "1.1";
  CHECK(error_of(c) == "TLS: minimum version '1.1' is not one of 1.2, 1.3");

  c = config_for(certs.server);
  c.ciphers = "NO-SUCH-CIPHER";
  CHECK(error_of(c).find("TLS: ciphers 'NO-SUCH-CIPHER': no cipher match") != std::string::npos);

  c = config_for(certs.server);
  c.client_certs = ClientCerts::required;
  CHECK(error_of(c).find("need a CA file (--ca-certs)") != std::string::npos);
  c.ca_file = certs.dir() + "/no-ca.pem";
  CHECK(error_of(c).find("CA file " + certs.dir() + "/no-ca.pem: no such file") !=
        std::string::npos);
  c.ca_file = certs.ca.cert;
  CHECK(error_of(c) == "");

  CHECK(parse_client_certs("optional") == ClientCerts::optional);
  CHECK_THROWS_WITH(parse_client_certs("maybe"),
                    "TLS: client certificates 'maybe' is not one of none, optional, required");
}

TEST_CASE("reload: new handshakes get the new pair and a bad pair leaves the old one serving") {
  TestCertificates certs;
  TlsContext context(config_for(certs.server));
  CHECK(served_cn(context) == "localhost");

  // A session started before the reload keeps the old settings.
  detail::TlsSession before(context);
  context.reload(config_for(certs.server_alt));
  CHECK(served_cn(context) == "alt.localhost");
  test::MemoryClient client;
  REQUIRE(test::handshake(client, before) == "");
  char cn[256] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(SSL_get0_peer_certificate(client.ssl())),
                            NID_commonName, cn, sizeof cn);
  CHECK(std::string(cn) == "localhost");

  TlsConfig bad = config_for(certs.server);
  bad.certificate.key_file = certs.client.key;
  CHECK_THROWS_WITH(context.reload(bad), Catch::Contains("does not match"));
  CHECK(served_cn(context) == "alt.localhost");
  CHECK(context.config().certificate.cert_file == certs.server_alt.cert);
}

TEST_CASE("reload() reads the same files again: a replaced certificate is served") {
  TestCertificates certs;
  std::string cert = certs.dir() + "/live.pem", key = certs.dir() + "/live.key";
  std::filesystem::copy_file(certs.server.cert, cert);
  std::filesystem::copy_file(certs.server.key, key);
  TlsContext context({.certificate = {cert, key}});
  CHECK(served_cn(context) == "localhost");

  // Half a renewal (the new certificate, the old key): refused, the old pair serves on.
  std::filesystem::copy_file(certs.server_alt.cert, cert,
                             std::filesystem::copy_options::overwrite_existing);
  CHECK_THROWS_WITH(context.reload(), Catch::Contains("does not match"));
  CHECK(served_cn(context) == "localhost");

  std::filesystem::copy_file(certs.server_alt.key, key,
                             std::filesystem::copy_options::overwrite_existing);
  context.reload();
  CHECK(served_cn(context) == "alt.localhost");
}

TEST_CASE(
    "SNI chooses the pair by the names in its certificate and an unknown name gets the default") {
  TestCertificates certs;
  auto wildcard =
      certs.issue({.name = "wild", .common_name = "wildcard", .dns = {"*.wild.localhost"}});
  TlsConfig c = config_for(certs.server);
  c.sni = {{certs.server_alt.cert, certs.server_alt.key}, {wildcard.cert, wildcard.key}};
  TlsContext context(c);
  CHECK(served_cn(context, "alt.localhost") == "alt.localhost");
  CHECK(served_cn(context, "ALT.localhost") == "alt.localhost");
  CHECK(served_cn(context, "a.wild.localhost") == "wildcard");
  CHECK(served_cn(context, "wild.localhost") == "localhost");
  CHECK(served_cn(context, "unknown.example") == "localhost");
  CHECK(served_cn(context, "") == "localhost");
}
