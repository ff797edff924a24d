// Real database servers for the tests: PostgreSQL and Redis, each started once per test
// process by scripts/test-services.sh on a free loopback port (and a Unix socket), and
// stopped when the process exits.
//
//   auto* pg = grove::test::postgres();   // before patch_all(): it runs a shell script
//   if (!pg) return;                      // not installed, outside CI: skipped, loudly
//   PGconn* c = PQconnectdb(pg->conninfo_tcp().c_str());
//
// Outside CI (the environment variable CI unset) a server that is not installed skips the
// test with a warning; with CI set it fails the test. Should the test process die without
// running its exit handlers, the script's watchdog stops the server when it notices.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GROVE_TEST_SERVICES_SCRIPT
#error "GROVE_TEST_SERVICES_SCRIPT must name scripts/test-services.sh"
#endif

namespace grove::test {

// A running server: where to reach it, and how to stop and start it again (same port).
class Service {
 public:
  // Runs in dir, a new directory inside parent, which goes too when the service does.
  Service(std::string kind, std::string parent)
      : kind_(std::move(kind)), parent_(std::move(parent)), dir_(parent_ + "/" + kind_) {}
  ~Service() {
    script(std::string(GROVE_TEST_SERVICES_SCRIPT) + " destroy " + dir_);
    ::rmdir(parent_.c_str());
  }
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  int port() const { return std::stoi(info_.at("port")); }
  const std::string& socket_dir() const { return info_.at("socket_dir"); }
  const std::string& dir() const { return dir_; }

  // PostgreSQL connection strings as the trusted superuser: over TCP, over the Unix socket,
  // and by the name localhost (resolved, then TCP). `extra` overrides ("dbname=other").
  std::string conninfo_tcp(const std::string& extra = "") const {
    return pg_common() + " host=127.0.0.1 " + extra;
  }
  std::string conninfo_unix(const std::string& extra = "") const {
    return pg_common() + " host=" + socket_dir() + " " + extra;
  }
  std::string conninfo_localhost(const std::string& extra = "") const {
    return pg_common() + " host=localhost " + extra;
  }
  // Over TCP as the role that must authenticate (SCRAM) with `password` (right: "grove").
  std::string conninfo_password(const std::string& password) const {
    return "port=" + info_.at("port") + " host=127.0.0.1 dbname=" + info_.at("dbname") +
           " user=" + info_.at("auth_user") + " password=" + password;
  }

  // Starts the server; returns the script's exit status (77: not installed). `env`:
  // variable assignments for the script ("GROVE_PG_TLS_CERT=... GROVE_PG_TLS_KEY=...").
  int start(const std::string& env = "") {
    if (!env.empty()) env_ = env;
    std::string out;
    int status = script(env_ + " " + GROVE_TEST_SERVICES_SCRIPT + " start " +
                        (kind_ == "postgres-tls" ? "postgres" : kind_) + " " + dir_, &out);
    if (status == 0) parse(out);
    return status;
  }
  void stop() { script(std::string(GROVE_TEST_SERVICES_SCRIPT) + " stop " + dir_); }

 private:
  std::string pg_common() const {
    return "port=" + info_.at("port") + " user=" + info_.at("user") + " dbname=" + info_.at("dbname");
  }
  void parse(const std::string& out) {
    std::size_t pos = 0;
    while (pos < out.size()) {
      std::size_t end = out.find('\n', pos);
      if (end == std::string::npos) end = out.size();
      std::string line = out.substr(pos, end - pos);
      if (auto eq = line.find('='); eq != std::string::npos) info_[line.substr(0, eq)] = line.substr(eq + 1);
      pos = end + 1;
    }
  }
  // Runs the script's command line with this process as the watchdog's owner; returns its
  // exit status.
  static int script(const std::string& command, std::string* out = nullptr) {
    std::string cmd = "GROVE_SERVICE_OWNER=" + std::to_string(::getpid()) + " " + command;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return -1;
    char buf[1024];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
      if (out) out->append(buf, n);
    int status = ::pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string kind_, parent_, dir_, env_;
  std::map<std::string, std::string> info_;
};

namespace detail {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && *ci && std::string(ci) != "0" && std::string(ci) != "false";
}

// Starts `kind` once per process; nullptr when it is not installed and this is not CI.
inline Service* service(const std::string& kind, const std::string& env = "") {
  static std::map<std::string, std::unique_ptr<Service>> started;
  static std::map<std::string, bool> missing;
  if (auto it = started.find(kind); it != started.end()) return it->second.get();
  if (missing.count(kind)) return nullptr;
  char tmpl[] = "/tmp/grove-service-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  ::chmod(tmpl, 0711);  // the server's unprivileged user must reach its directory
  auto s = std::make_unique<Service>(kind, tmpl);
  int status = s->start(env);
  if (status == 77) {
    s.reset();
    if (in_ci()) FAIL(kind << " is not installed, and CI is set: scripts/install-deps.sh test installs it");
    WARN("\n*** SKIPPED: " << kind << " is not installed (scripts/install-deps.sh test) ***\n");
    missing[kind] = true;
    return nullptr;
  }
  if (status != 0) FAIL("scripts/test-services.sh could not start " << kind << " (status " << status << ")");
  return (started[kind] = std::move(s)).get();
}

}  // namespace detail

// The process's PostgreSQL server (trusted superuser grove; grove_auth, password grove, must
// authenticate over TCP; database postgres).
inline Service* postgres() { return detail::service("postgres"); }
// A second PostgreSQL server of the process, with TLS on (the PEM files of a certificate
// and its key, e.g. grove::test::TestCertificates's server pair).
inline Service* postgres_tls(const std::string& cert, const std::string& key) {
  return detail::service("postgres-tls", "GROVE_PG_TLS_CERT=" + cert + " GROVE_PG_TLS_KEY=" + key);
}
// The process's Redis server.
inline Service* redis() { return detail::service("redis"); }

}  // namespace grove::test
