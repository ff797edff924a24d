// Real database servers for the tests: PostgreSQL and Redis on free loopback ports (and Unix
// sockets), started by scripts/test-services.sh.
//
//   auto* pg = grove::test::postgres();   // before patch_all(): it may run a shell script
//   if (!pg) return;                      // not installed, outside CI: skipped, loudly
//   PGconn* c = PQconnectdb(pg->conninfo_tcp().c_str());
//
// Under ctest, postgres() and redis() are the servers the whole run shares (the fixture
// grove_services of tests/CMakeLists.txt starts them once, `test-services.sh up`): a test
// keeps to tables and keys of its own (unique_name, unique_key). Run by hand, or when the
// shared ones are not up, each test process starts its own, stopped when the process exits.
// A test that stops or restarts its server takes a private one: private_redis(),
// private_postgres().
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

#include <fstream>
#include <sstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
  // The run's shared server in `dir`, as `test-services.sh up` described it in `info`.
  static std::unique_ptr<Service> shared(std::string kind, std::string dir,
                                         const std::string& info) {
    auto s = std::make_unique<Service>(std::move(kind), std::string());
    s->dir_ = std::move(dir);
    s->shared_ = true;
    s->parse(info);
    return s;
  }
  ~Service() {
    if (shared_) return;  // the fixture's cleanup stops it
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
    refuse_if_shared("start");
    if (!env.empty()) env_ = env;
    std::string out;
    int status = script(env_ + " " + GROVE_TEST_SERVICES_SCRIPT + " start " +
                            (kind_ == "postgres-tls" ? "postgres" : kind_) + " " + dir_,
                        &out);
    if (status == 0) parse(out);
    return status;
  }
  void stop() {
    refuse_if_shared("stop");
    script(std::string(GROVE_TEST_SERVICES_SCRIPT) + " stop " + dir_);
  }

 private:
  void refuse_if_shared(const char* what) const {
    if (shared_)
      FAIL("the " << kind_ << " server is shared by the whole test run and cannot " << what
                  << ": a test that stops or restarts its server takes its own "
                     "(grove::test::private_redis(), private_postgres())");
  }
  std::string pg_common() const {
    return "port=" + info_.at("port") + " user=" + info_.at("user") +
           " dbname=" + info_.at("dbname");
  }
  void parse(const std::string& out) {
    std::size_t pos = 0;
    while (pos < out.size()) {
      std::size_t end = out.find('\n', pos);
      if (end == std::string::npos) end = out.size();
      std::string line = out.substr(pos, end - pos);
      if (auto eq = line.find('='); eq != std::string::npos)
        info_[line.substr(0, eq)] = line.substr(eq + 1);
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
  bool shared_ = false;
  std::map<std::string, std::string> info_;
};

namespace detail {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && *ci && std::string(ci) != "0" && std::string(ci) != "false";
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whether something accepts connections on 127.0.0.1:port (a blocking connect: this runs
// before patch_all()).
inline bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return open;
}

// The run's shared `kind` ("postgres" or "redis") when ctest's fixture has it up; else null.
inline std::unique_ptr<Service> shared_service(const std::string& kind) {
#ifdef GROVE_TEST_SHARED_SERVICES
  std::string dir = read_file(GROVE_TEST_SHARED_SERVICES);
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' ')) dir.pop_back();
  if (dir.empty()) return nullptr;
  std::string info = read_file(dir + "/" + kind + "/info");
  if (info.empty()) return nullptr;
  auto s = Service::shared(kind, dir + "/" + kind, info);
  if (!port_open(s->port())) return nullptr;  // left over from a run that was killed
  return s;
#else
  (void)kind;
  return nullptr;
#endif
}

// `kind` for this process: the run's shared server when there is one (and `kind` may be
// shared), else one started once per process; nullptr when it is not installed and this is
// not CI.
inline Service* service(const std::string& kind, const std::string& env = "") {
  static std::map<std::string, std::unique_ptr<Service>> started;
  static std::map<std::string, bool> missing;
  if (auto it = started.find(kind); it != started.end()) return it->second.get();
  if (missing.count(kind)) return nullptr;
  if (kind == "postgres" || kind == "redis") {
    if (auto s = shared_service(kind)) return (started[kind] = std::move(s)).get();
  }
  char tmpl[] = "/tmp/grove-service-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  ::chmod(tmpl, 0711);  // the server's unprivileged user must reach its directory
  auto s = std::make_unique<Service>(kind.substr(0, kind.find('-')), tmpl);
  int status = s->start(env);
  if (status == 77) {
    s.reset();
    if (in_ci())
      FAIL(kind << " is not installed, and CI is set: scripts/install-deps.sh test installs it");
    WARN("\n*** SKIPPED: " << kind << " is not installed (scripts/install-deps.sh test) ***\n");
    missing[kind] = true;
    return nullptr;
  }
  if (status != 0)
    FAIL("scripts/test-services.sh could not start " << kind << " (status " << status << ")");
  return (started[kind] = std::move(s)).get();
}

}  // namespace detail

// The PostgreSQL server, the run's shared one under ctest (trusted superuser grove;
// grove_auth, password grove, must authenticate over TCP; database postgres).
inline Service* postgres() { return detail::service("postgres"); }
// A PostgreSQL server of this process alone, with TLS on (the PEM files of a certificate
// and its key, e.g. grove::test::TestCertificates's server pair).
inline Service* postgres_tls(const std::string& cert, const std::string& key) {
  return detail::service("postgres-tls", "GROVE_PG_TLS_CERT=" + cert + " GROVE_PG_TLS_KEY=" + key);
}
// The Redis server (the run's shared one under ctest).
inline Service* redis() { return detail::service("redis"); }
// A server of this process alone, which the test may stop and start (same port).
inline Service* private_redis() { return detail::service("redis-private"); }
inline Service* private_postgres() { return detail::service("postgres-private"); }

}  // namespace grove::test
