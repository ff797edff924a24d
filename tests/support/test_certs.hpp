// Test certificates, generated at test time with OpenSSL's API into a fresh temporary
// directory (no private key is ever checked in). One test CA signs every certificate;
// the keys are ECDSA P-256 (fast to make), written unencrypted with mode 0600 (PostgreSQL
// refuses a key file others can read).
//
//   grove::test::TestCertificates certs;          // throws std::runtime_error if it cannot
//   server.tls.cert_file = certs.server.cert;     // "<dir>/server.pem"
//   curl --cacert certs.ca.cert https://localhost:PORT/
//
// Link the target grove_test_certs. The directory goes when the object does.
#pragma once

#include <string>
#include <vector>

namespace grove::test {

// The PEM files of one certificate and its private key.
struct CertFiles {
  std::string cert;
  std::string key;
};

// What to put in a certificate issued by issue().
struct CertSpec {
  std::string name{};              // file stem: <dir>/<name>.pem and <dir>/<name>.key
  std::string common_name{};       // subject CN
  std::vector<std::string> dns{};  // subjectAltName DNS entries
  std::vector<std::string> ips{};  // subjectAltName IP entries
  long not_before_days = -1;       // validity, in days from now
  long not_after_days = 365;
  bool client = false;  // extendedKeyUsage clientAuth instead of serverAuth
  bool rsa = false;     // RSA-2048 instead of ECDSA P-256
};

class TestCertificates {
 public:
  TestCertificates();  // creates the directory and every certificate below
  ~TestCertificates();
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  const std::string& dir() const { return dir_; }

  // Issues one more certificate signed by the test CA (or, with the other CA, by `other_ca`).
  CertFiles issue(const CertSpec& spec, bool by_other_ca = false) const;

  CertFiles ca;          // the test CA (self-signed): what clients trust
  CertFiles server;      // CN localhost, SAN DNS:localhost, IP:127.0.0.1 and ::1
  CertFiles server_alt;  // a second server pair for SNI: DNS:alt.localhost
  CertFiles expired;     // localhost, valid until yesterday
  CertFiles wrong_host;  // DNS:wrong.example only
  CertFiles untrusted;   // localhost, but signed by another CA nobody trusts
  CertFiles client;      // CN "grove test client", clientAuth
  CertFiles other_ca;    // the CA that signed `untrusted`

 private:
  std::string dir_;
};

}  // namespace grove::test
