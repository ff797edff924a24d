// The proof with libpq, unmodified, against a real PostgreSQL server on loopback: its
// blocking API (PQconnectdb, PQexec, PQcancel) runs concurrently in green threads of a
// patched process. The time bounds are overlap checks (well under the sequential time), not
// performance targets; bench/run_db_compat.sh measures. TLS (sslmode=require, verify-full)
// against a second server with the test certificates.
#include "compat_support.hpp"
#include "services.hpp"
#include "test_certs.hpp"

#include <libpq-fe.h>

#include <cstring>

using namespace grove::test;

namespace {

constexpr std::size_t kStack = 256 * 1024;

// One client's whole life: connect, run `sql`, disconnect. Returns "ok" or the error.
std::string connect_and_run(const std::string& conninfo, const char* sql) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  std::string out;
  if (PQstatus(c) != CONNECTION_OK) {
    out = std::string("connect: ") + PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql);
    out = PQresultStatus(r) == PGRES_TUPLES_OK ? "ok" : std::string("exec: ") + PQerrorMessage(c);
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

// Runs `n` clients at once, each in its own green thread; returns how many said "ok".
int run_clients(int n, const std::string& conninfo, const char* sql) {
  std::vector<green::Handle<std::string>> clients;
  for (int i = 0; i < n; ++i)
    clients.push_back(green::spawn(green::SpawnOptions{"pg-" + std::to_string(i), kStack},
                                   [&] { return connect_and_run(conninfo, sql); }));
  int ok = 0;
  for (auto& c : clients) {
    std::string r = c.join();
    if (r == "ok") ++ok;
    else UNSCOPED_INFO(r);
  }
  return ok;
}

// A TCP listener on loopback whose accept queue is full: a connect() to it never completes
// (the kernel drops the SYN), the way an unreachable host behaves, without leaving loopback.
struct BlackHole {
  Listener listener{0};
  std::vector<int> fillers;
  BlackHole() {
    sockaddr_in a = listener.address();
    for (int i = 0; i < 2; ++i) {  // backlog 0 holds one; the second waits, the rest drop
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      fillers.push_back(fd);
    }
    ::usleep(50 * 1000);  // unpatched here: lets the handshakes settle
  }
  ~BlackHole() {
    for (int fd : fillers) ::close(fd);
  }
};

}  // namespace

TEST_CASE("libpq: 50 green threads each connect and run pg_sleep(0.1) concurrently",
          "[compat][proof][postgres]") {
  Service* pg = postgres();
  if (!pg) return;
  compat::patch_all();
  auto [how, conninfo] =
      GENERATE_REF(table<std::string, std::string>({{"TCP", pg->conninfo_tcp()},
                                                    {"a Unix socket", pg->conninfo_unix()},
                                                    {"host=localhost", pg->conninfo_localhost()}}));
  INFO("over " << how << ": " << conninfo);
  auto start = SteadyClock::now();
  int ok = run_clients(50, conninfo, "SELECT pg_sleep(0.1)");
  double took = ms_since(start);
  INFO("50 clients took " << took << " ms; one after another they take over 5000 ms");
  CHECK(ok == 50);
  CHECK(took >= 100);
  CHECK(took < 2500);
}

TEST_CASE("libpq: connect_timeout ends a connect the server never answers, and siblings run",
          "[compat][proof][postgres]") {
  compat::patch_all();
  // Accepts TCP (the kernel completes the handshake) but never speaks PostgreSQL.
  Listener mute;
  std::string conninfo = "host=127.0.0.1 port=" + std::to_string(mute.port) +
                         " user=grove dbname=postgres connect_timeout=2";
  Ticker ticker;
  auto start = SteadyClock::now();
  std::string r = in_green([&] { return connect_and_run(conninfo, "SELECT 1"); });
  double took = ms_since(start);
  ticker.stop();
  INFO(r << " after " << took << " ms; " << ticker.ticks() << " ticks");
  CHECK(r.find("timeout expired") != std::string::npos);
  CHECK(took >= 1900);          // libpq's own timeout (2 s), not an early failure
  CHECK(took < 10000);          // and not a hang
  CHECK(ticker.ticks() > 200);  // about 2000 1-ms ticks if the hub never blocked
}

TEST_CASE("libpq: 10 connects to an unreachable host all fail within connect_timeout together",
          "[compat][proof][postgres]") {
  compat::patch_all();
  BlackHole hole;
  std::string conninfo = "host=127.0.0.1 port=" + std::to_string(hole.listener.port) +
                         " user=grove dbname=postgres connect_timeout=2";
  Ticker ticker;
  auto start = SteadyClock::now();
  std::vector<green::Handle<std::string>> clients;
  for (int i = 0; i < 10; ++i)
    clients.push_back(green::spawn(green::SpawnOptions{"pg-unreachable", kStack},
                                   [&] { return connect_and_run(conninfo, "SELECT 1"); }));
  int timed_out = 0;
  for (auto& c : clients) {
    std::string r = c.join();
    if (r.find("timeout expired") != std::string::npos) ++timed_out;
    else UNSCOPED_INFO(r);
  }
  double took = ms_since(start);
  ticker.stop();
  INFO("10 connects took " << took << " ms; " << ticker.ticks() << " ticks");
  CHECK(timed_out == 10);
  CHECK(took >= 1900);
  CHECK(took < 10000);  // 20 s one after another
  CHECK(ticker.ticks() > 200);
}

TEST_CASE("libpq: PQcancel from another green thread ends a running query",
          "[compat][proof][postgres]") {
  Service* pg = postgres();
  if (!pg) return;
  compat::patch_all();
  auto [how, conninfo] = GENERATE_REF(table<std::string, std::string>(
      {{"TCP", pg->conninfo_tcp()}, {"a Unix socket", pg->conninfo_unix()}}));
  INFO("over " << how);
  in_green([&, conninfo = conninfo] {
    PGconn* c = PQconnectdb(conninfo.c_str());
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    bool cancel_sent = false;
    std::string cancel_error;
    auto canceller = green::spawn(green::SpawnOptions{"canceller", kStack}, [&] {
      green::sleep(200ms);
      PGcancel* cancel = PQgetCancel(c);
      char err[256] = {};
      cancel_sent = PQcancel(cancel, err, sizeof err) == 1;
      cancel_error = err;
      PQfreeCancel(cancel);
    });
    auto start = SteadyClock::now();
    PGresult* r = PQexec(c, "SELECT pg_sleep(30)");
    double took = ms_since(start);
    canceller.join();
    INFO("the query ended after " << took << " ms; cancel error: " << cancel_error);
    CHECK(cancel_sent);
    CHECK(PQresultStatus(r) == PGRES_FATAL_ERROR);
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    CHECK(std::string(state ? state : "") == "57014");  // query_canceled
    CHECK(took >= 200);
    CHECK(took < 10000);  // 30 s if the cancel never went out
    PQclear(r);
    // The connection is still usable.
    PGresult* again = PQexec(c, "SELECT 1");
    CHECK(PQresultStatus(again) == PGRES_TUPLES_OK);
    PQclear(again);
    PQfinish(c);
  });
}

TEST_CASE("libpq: 50 green threads connect over TLS and run pg_sleep(0.1) concurrently",
          "[compat][proof][postgres][tls]") {
  // One set per process, like the server that uses them (each generated value reruns this).
  static TestCertificates certs;
  Service* pg = postgres_tls(certs.server.cert, certs.server.key);
  if (!pg) return;
  compat::patch_all();
  auto [mode, extra] = GENERATE_REF(table<std::string, std::string>(
      {{"sslmode=require", "sslmode=require"},
       {"sslmode=verify-full", "sslmode=verify-full sslrootcert=" + certs.ca.cert}}));
  std::string conninfo = pg->conninfo_localhost(extra);
  INFO(mode << ": " << conninfo);
  // The connection really is encrypted.
  std::string ssl = in_green([&] {
    PGconn* c = PQconnectdb(conninfo.c_str());
    std::string in_use = PQstatus(c) == CONNECTION_OK && PQsslInUse(c) ? "tls" : PQerrorMessage(c);
    PQfinish(c);
    return in_use;
  });
  REQUIRE(ssl == "tls");
  auto start = SteadyClock::now();
  int ok = run_clients(50, conninfo, "SELECT pg_sleep(0.1)");
  double took = ms_since(start);
  INFO("50 TLS clients took " << took << " ms; one after another they take over 5000 ms");
  CHECK(ok == 50);
  CHECK(took >= 100);
  CHECK(took < 2500);
}
