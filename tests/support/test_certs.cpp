// Certificates made with OpenSSL 3's API: a key, an X.509 v3 certificate with the usual
// extensions, signed with SHA-256 by the CA (or by itself for a CA), written as PEM.
#include "test_certs.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <sys/stat.h>

namespace grove::test {
namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using File = std::unique_ptr<FILE, Deleter<std::fclose>>;

[[noreturn]] void fail(const std::string& what) {
  char reason[256] = "no OpenSSL error";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, reason, sizeof reason);
  ERR_clear_error();
  throw std::runtime_error("test certificates: " + what + ": " + reason);
}

File open(const std::string& path, const char* mode) {
  File f(std::fopen(path.c_str(), mode));
  if (!f) throw std::runtime_error("test certificates: cannot open " + path);
  return f;
}

Key make_key(bool rsa) {
  Key key(rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
  if (!key) fail("key generation");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string alt_names(const CertSpec& spec) {
  std::string out;
  for (const auto& d : spec.dns) out += (out.empty() ? "" : ",") + ("DNS:" + d);
  for (const auto& i : spec.ips) out += (out.empty() ? "" : ",") + ("IP:" + i);
  return out;
}

// issuer/issuer_key null: self-signed CA.
Cert make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_days * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("grove tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  const bool is_ca = issuer == nullptr;
  X509* signer = is_ca ? cert.get() : issuer;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));

  add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (is_ca) {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_extension(cert.get(), signer, NID_ext_key_usage, spec.client ? "clientAuth" : "serverAuth");
  }
  if (std::string alt = alt_names(spec); !alt.empty())
    add_extension(cert.get(), signer, NID_subject_alt_name, alt);

  if (!X509_sign(cert.get(), is_ca ? key : issuer_key, EVP_sha256())) fail("signing " + spec.name);
  return cert;
}

CertFiles write(const std::string& dir, const std::string& stem, X509* cert, EVP_PKEY* key) {
  CertFiles files{dir + "/" + stem + ".pem", dir + "/" + stem + ".key"};
  if (!PEM_write_X509(open(files.cert, "w").get(), cert)) fail("writing " + files.cert);
  {
    File f = open(files.key, "w");
    ::fchmod(fileno(f.get()), 0600);
    if (!PEM_write_PrivateKey(f.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
      fail("writing " + files.key);
  }
  return files;
}

Cert read_cert(const std::string& path) {
  Cert cert(PEM_read_X509(open(path, "r").get(), nullptr, nullptr, nullptr));
  if (!cert) fail("reading " + path);
  return cert;
}

Key read_key(const std::string& path) {
  Key key(PEM_read_PrivateKey(open(path, "r").get(), nullptr, nullptr, nullptr));
  if (!key) fail("reading " + path);
  return key;
}

CertFiles make_ca(const std::string& dir, const std::string& stem, const std::string& cn) {
  CertSpec spec{.name = stem, .common_name = cn, .not_after_days = 3650};
  Key key = make_key(false);
  Cert cert = make_cert(spec, key.get(), nullptr, nullptr);
  return write(dir, stem, cert.get(), key.get());
}

std::string make_temp_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/grove-certs.XXXXXX";
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("test certificates: mkdtemp failed");
  return pattern;
}

}  // namespace

TestCertificates::TestCertificates() : dir_(make_temp_dir()) {
  try {
    ca = make_ca(dir_, "ca", "grove test CA");
    other_ca = make_ca(dir_, "other-ca", "grove untrusted CA");
    server = issue({.name = "server",
                    .common_name = "localhost",
                    .dns = {"localhost"},
                    .ips = {"127.0.0.1", "::1"}});
    server_alt =
        issue({.name = "server-alt", .common_name = "alt.localhost", .dns = {"alt.localhost"}});
    expired = issue({.name = "expired",
                     .common_name = "localhost",
                     .dns = {"localhost"},
                     .ips = {"127.0.0.1"},
                     .not_before_days = -30,
                     .not_after_days = -1});
    wrong_host =
        issue({.name = "wrong-host", .common_name = "wrong.example", .dns = {"wrong.example"}});
    untrusted = issue({.name = "untrusted",
                       .common_name = "localhost",
                       .dns = {"localhost"},
                       .ips = {"127.0.0.1"}},
                      true);
    client = issue({.name = "client", .common_name = "grove test client", .client = true});
  } catch (...) {
    std::filesystem::remove_all(dir_);
    throw;
  }
}

TestCertificates::~TestCertificates() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

CertFiles TestCertificates::issue(const CertSpec& spec, bool by_other_ca) const {
  const CertFiles& signer = by_other_ca ? other_ca : ca;
  Cert ca_cert = read_cert(signer.cert);
  Key ca_key = read_key(signer.key);
  Key key = make_key(spec.rsa);
  Cert cert = make_cert(spec, key.get(), ca_cert.get(), ca_key.get());
  return write(dir_, spec.name, cert.get(), key.get());
}

}  // namespace grove::test
