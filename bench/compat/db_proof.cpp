// compat_db_proof ROUNDS PG_PORT PG_SOCKET_DIR REDIS_PORT: the database proofs of
// tests/compat/test_proof_libpq.cpp and test_proof_hiredis.cpp as a timed program, against
// servers bench/run_db_compat.sh starts. Unmodified libpq and hiredis in a patched process:
//   pg-<transport>: 50 green threads, each PQconnectdb + PQexec("SELECT pg_sleep(0.1)") +
//                   PQfinish, over TCP, the Unix socket and host=localhost;
//   redis-blpop:    50 green threads each BLPOP a list of their own on a connection of their
//                   own; another green thread fills the lists after 100 ms.
// Prints one line per scenario: "db_proof scenario=S n=50 best_ms=B median_ms=M ok=K engine=E".
#include <grove/compat.hpp>
#include <grove/green.hpp>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace green = grove::green;

namespace {

constexpr int kClients = 50;
constexpr std::size_t kStack = 256 * 1024;

bool pg_sleep_once(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  bool ok = false;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, "SELECT pg_sleep(0.1)");
    ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
  } else {
    std::fprintf(stderr, "%s", PQerrorMessage(c));
  }
  PQfinish(c);
  return ok;
}

bool blpop_once(int port, const std::string& key) {
  redisContext* c = redisConnect("127.0.0.1", port);
  bool ok = false;
  if (c && !c->err) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "BLPOP %s 10", key.c_str()));
    ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2;
    freeReplyObject(r);
  }
  redisFree(c);
  return ok;
}

void fill_after_100ms(int port, const std::string& prefix) {
  ::usleep(100 * 1000);
  redisContext* c = redisConnect("127.0.0.1", port);
  if (!c || c->err) return;
  for (int i = 0; i < kClients; ++i)
    freeReplyObject(redisCommand(c, "RPUSH %s%d x", prefix.c_str(), i));
  redisFree(c);
}

// Runs `round` ROUNDS times; prints the best and median wall time and the last round's ok count.
void measure(const char* scenario, int rounds, const std::function<int(int)>& round) {
  std::vector<double> times;
  int ok = 0;
  for (int r = 0; r < rounds; ++r) {
    auto start = std::chrono::steady_clock::now();
    ok = round(r);
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(times.begin(), times.end());
  std::printf("db_proof scenario=%s n=%d best_ms=%.1f median_ms=%.1f ok=%d engine=%s\n", scenario,
              kClients, times.front(), times[times.size() / 2], ok, green::hub_engine().c_str());
  std::fflush(stdout);
}

int pg_round(const std::string& conninfo) {
  std::vector<green::Handle<bool>> clients;
  for (int i = 0; i < kClients; ++i)
    clients.push_back(green::spawn(green::SpawnOptions{"pg", kStack},
                                   [&conninfo] { return pg_sleep_once(conninfo); }));
  int ok = 0;
  for (auto& c : clients) ok += c.join() ? 1 : 0;
  return ok;
}

int redis_round(int port, int round) {
  std::string prefix = "bench:" + std::to_string(::getpid()) + ":" + std::to_string(round) + ":";
  std::vector<green::Handle<bool>> clients;
  for (int i = 0; i < kClients; ++i)
    clients.push_back(green::spawn(green::SpawnOptions{"blpop", kStack},
                                   [=] { return blpop_once(port, prefix + std::to_string(i)); }));
  auto filler =
      green::spawn(green::SpawnOptions{"filler", kStack}, [=] { fill_after_100ms(port, prefix); });
  int ok = 0;
  for (auto& c : clients) ok += c.join() ? 1 : 0;
  filler.join();
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s ROUNDS PG_PORT PG_SOCKET_DIR REDIS_PORT\n", argv[0]);
    return 2;
  }
  grove::compat::patch_all();
  int rounds = std::atoi(argv[1]);
  std::string port = argv[2], sock = argv[3];
  int redis_port = std::atoi(argv[4]);
  std::string common = "port=" + port + " user=grove dbname=postgres ";
  struct Transport {
    const char* scenario;
    std::string conninfo;
  } transports[] = {
      {"pg-tcp", common + "host=127.0.0.1"},
      {"pg-unix", common + "host=" + sock},
      {"pg-localhost", common + "host=localhost"},
  };
  green::spawn([&] {
    for (auto& t : transports)
      measure(t.scenario, rounds, [&](int) { return pg_round(t.conninfo); });
    measure("redis-blpop", rounds, [&](int r) { return redis_round(redis_port, r); });
  }).join();
  return 0;
}
