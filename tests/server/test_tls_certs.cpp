// The test certificates (tests/support/test_certs.hpp), checked by an independent verifier:
// the `openssl verify` command, with the CA file, the purpose and the host name a client
// would check.
#include "test_certs.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <sys/stat.h>

namespace {

struct Run {
  int status;
  std::string output;
};

Run run(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 512> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  return {::pclose(p), out};
}

Run verify(const grove::test::TestCertificates& certs, const std::string& cert,
           const std::string& checks) {
  return run("openssl verify -CAfile " + certs.ca.cert + " " + checks + " " + cert);
}

}  // namespace

TEST_CASE("the server certificate verifies for localhost and 127.0.0.1 against the test CA") {
  grove::test::TestCertificates certs;
  Run r = verify(certs, certs.server.cert, "-purpose sslserver -verify_hostname localhost");
  INFO(r.output);
  CHECK(r.status == 0);
  r = verify(certs, certs.server.cert, "-purpose sslserver -verify_ip 127.0.0.1");
  INFO(r.output);
  CHECK(r.status == 0);
  r = verify(certs, certs.server_alt.cert, "-purpose sslserver -verify_hostname alt.localhost");
  INFO(r.output);
  CHECK(r.status == 0);
}

TEST_CASE("the expired and wrong-host and untrusted certificates fail for their reason") {
  grove::test::TestCertificates certs;
  Run expired = verify(certs, certs.expired.cert, "-verify_hostname localhost");
  CHECK(expired.status != 0);
  CHECK(expired.output.find("certificate has expired") != std::string::npos);

  Run wrong = verify(certs, certs.wrong_host.cert, "-verify_hostname localhost");
  CHECK(wrong.status != 0);
  CHECK(wrong.output.find("hostname mismatch") != std::string::npos);
  // The same certificate is fine for its own name: only the host is wrong.
  CHECK(verify(certs, certs.wrong_host.cert, "-verify_hostname wrong.example").status == 0);

  Run untrusted = verify(certs, certs.untrusted.cert, "-verify_hostname localhost");
  CHECK(untrusted.status != 0);
  CHECK(untrusted.output.find("unable to get local issuer certificate") != std::string::npos);
}

TEST_CASE("the client certificate is for client authentication and not for a server") {
  grove::test::TestCertificates certs;
  CHECK(verify(certs, certs.client.cert, "-purpose sslclient").status == 0);
  CHECK(verify(certs, certs.client.cert, "-purpose sslserver").status != 0);
}

TEST_CASE("keys match their certificates and are private to the owner and go with the object") {
  std::string dir;
  {
    grove::test::TestCertificates certs;
    dir = certs.dir();
    for (const auto* pair : {&certs.server, &certs.client, &certs.expired}) {
      std::string cert_pub = run("openssl x509 -noout -pubkey -in " + pair->cert).output;
      std::string key_pub = run("openssl pkey -pubout -in " + pair->key).output;
      CHECK(cert_pub.find("BEGIN PUBLIC KEY") != std::string::npos);
      CHECK(cert_pub == key_pub);
      struct stat st {};
      REQUIRE(::stat(pair->key.c_str(), &st) == 0);
      CHECK((st.st_mode & 0777) == 0600);
    }
    CHECK(run("openssl x509 -noout -pubkey -in " + certs.server.cert).output !=
          run("openssl x509 -noout -pubkey -in " + certs.client.cert).output);
  }
  CHECK_FALSE(std::filesystem::exists(dir));
}

TEST_CASE("issue() makes an RSA certificate on request") {
  grove::test::TestCertificates certs;
  auto rsa =
      certs.issue({.name = "rsa", .common_name = "localhost", .dns = {"localhost"}, .rsa = true});
  CHECK(run("openssl x509 -noout -text -in " + rsa.cert).output.find("rsaEncryption") !=
        std::string::npos);
  CHECK(verify(certs, rsa.cert, "-verify_hostname localhost").status == 0);
}
