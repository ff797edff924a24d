// TLS configuration and context (OpenSSL 3): what a TLS listener serves with.
//
// A TlsContext loads the certificate/key pairs once, at start-up, and fails there with a
// TlsError naming the file and the problem (missing, unreadable, not PEM, encrypted, a key
// that does not match its certificate). It then hands out the settings each new TLS
// session starts from; reload() swaps them for new handshakes only, and a bad new pair
// leaves the old one serving (reload throws, saying why).
//
//   grove::http::TlsConfig cfg;
//   cfg.certificate = {"/etc/letsencrypt/live/example.org/fullchain.pem",
//                      "/etc/letsencrypt/live/example.org/privkey.pem"};
//   cfg.sni.push_back({"/etc/ssl/other.pem", "/etc/ssl/other.key"});  // by its names
//   cfg.client_certs = grove::http::ClientCerts::optional;
//   cfg.ca_file = "/etc/ssl/clients-ca.pem";
//   grove::http::TlsContext tls(cfg);     // throws TlsError: "key file ... does not match ..."
//   ...
//   try { tls.reload(); } catch (const grove::http::TlsError& e) { log(e.what()); }
//
// What every context does: TLS 1.2 minimum unless min_version says "1.3"; ALPN selects
// http/1.1 and refuses a client that offers only other protocols (h2) with the
// no_application_protocol alert; renegotiation refused; session resumption by tickets whose
// keys rotate every ticket_key_lifetime (a ticket stays valid for two lifetimes); OpenSSL's
// per-connection buffers released while a connection is idle (SSL_MODE_RELEASE_BUFFERS).
//
// Thread safety: reload() and new sessions may run on different threads.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace grove::http {

// Whether the server asks for a client certificate, and whether it insists on one.
enum class ClientCerts { none, optional, required };

// "none" | "optional" | "required" (the --cert-reqs flag); throws TlsError otherwise.
ClientCerts parse_client_certs(const std::string& text);

struct TlsCertificate {
  std::string cert_file{};  // PEM: the certificate, then its chain (fullchain.pem)
  std::string key_file{};   // PEM: its unencrypted private key
};

struct TlsConfig {
  TlsCertificate certificate{};       // the default pair (no SNI, or an unknown name)
  std::vector<TlsCertificate> sni{};  // more pairs, each chosen for the DNS names of its
                                      // certificate (subjectAltName, else the CN; "*.x" too)
  std::string min_version = "1.2";    // "1.2" or "1.3"
  std::string ciphers{};              // TLS 1.2 cipher list, OpenSSL syntax; empty: OpenSSL's
  std::string ciphersuites{};         // TLS 1.3 suites; empty: OpenSSL's
  ClientCerts client_certs = ClientCerts::none;
  std::string ca_file{};  // the CAs client certificates must chain to (optional/required)
  bool session_tickets = true;
  std::chrono::seconds ticket_key_lifetime{3600};
};

// A configuration that cannot serve: the message names the file or setting and the problem.
class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a TLS connection negotiated: for the gateway and the application.
struct TlsFacts {
  std::string version;           // "TLSv1.3"
  std::string cipher;            // "TLS_AES_256_GCM_SHA384"
  std::string server_name;       // SNI, empty when the client sent none
  std::string alpn;              // "http/1.1", empty when the client offered none
  std::string client_subject;    // RFC 2253 subject of the client certificate, or empty
  std::string client_issuer;     // RFC 2253 issuer of the client certificate, or empty
  bool client_verified = false;  // a client certificate that chains to the CA file
  bool resumed = false;          // an abbreviated handshake (a ticket)
};

namespace detail {
struct TlsGeneration;
struct TicketKeys;
}  // namespace detail

class TlsContext {
 public:
  explicit TlsContext(TlsConfig config);  // throws TlsError
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Loads the files again (or a new configuration): new handshakes use the new pairs,
  // connections already open keep theirs. On a TlsError the old settings stay in force.
  void reload();
  void reload(TlsConfig config);

  TlsConfig config() const;

  // A new session-ticket key now (the previous one still decrypts); rotation also happens
  // by itself every ticket_key_lifetime.
  void rotate_ticket_keys();

  // The settings new sessions start from (detail::TlsSession takes them).
  std::shared_ptr<const detail::TlsGeneration> current() const;

 private:
  std::shared_ptr<detail::TicketKeys> tickets_;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace grove::http
