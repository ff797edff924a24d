// db_redis_roundtrips SECONDS PORT CLIENT: Redis round trips per second from 100 concurrent
// clients, one connection each, one command in flight per connection (what
// `redis-benchmark -c 100 -P 1 -t set,get` measures), against the server bench/run_db.sh
// starts. CLIENT is one of
//   native-green  grove::redis::Connection in 100 green threads, each command through
//                 green::wait (a plain view's way);
//   native-coro   grove::redis::Connection in 100 aio coroutines on the hub (a coroutine
//                 view's way);
//   hiredis       unmodified hiredis (redisCommand, blocking) in 100 green threads after
//                 patch_all().
// SET for SECONDS, then GET for SECONDS, of one key with redis-benchmark's default 3-byte
// value. Prints "redis_roundtrips client=C test=SET rps=R ops=N errors=E cpu_us=U engine=X" per
// test, U being this process's CPU time (user + system) per command: what a round trip costs
// the client, whatever else the machine runs.
#include <grove/compat.hpp>
#include <grove/green.hpp>
#include <grove/green/aio.hpp>
#include <grove/redis.hpp>

#include <hiredis/hiredis.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace green = grove::green;
namespace aio = grove::aio;
namespace redis = grove::redis;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kClients = 100;
constexpr std::size_t kStack = 256 * 1024;
const char* const kKey = "key:__rand_int__";  // redis-benchmark's key without -r
const char* const kValue = "xxx";             // and its default 3-byte value

Clock::duration to_clock(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

struct Tally {
  long ops = 0;
  long errors = 0;
};

// This process's CPU time so far, in microseconds.
double cpu_us() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto us = [](const timeval& t) { return t.tv_sec * 1e6 + t.tv_usec; };
  return us(u.ru_utime) + us(u.ru_stime);
}

void report(const char* client, const char* test, const Tally& t, double seconds,
            double cpu_used_us) {
  std::printf(
      "redis_roundtrips client=%s test=%s rps=%.0f ops=%ld errors=%ld cpu_us=%.2f engine=%s\n",
      client, test, t.ops / seconds, t.ops, t.errors, t.ops ? cpu_used_us / t.ops : 0.0,
      green::hub_engine().c_str());
  std::fflush(stdout);
}

// One green thread per client; `once(i, set)` runs one command on client i's connection
// and says whether it succeeded. Every client starts at the same instant and stops at the
// deadline.
void green_clients(const char* client, double seconds, const std::function<void(int)>& open,
                   const std::function<bool(int, bool)>& once) {
  green::spawn([&] {
    std::vector<green::Handle<void>> opening;
    for (int i = 0; i < kClients; ++i)
      opening.push_back(green::spawn(green::SpawnOptions{"open", kStack}, [&, i] { open(i); }));
    for (auto& g : opening) g.join();
    for (bool set : {true, false}) {
      Tally total;
      double cpu_start = cpu_us();
      auto start = Clock::now();
      auto deadline = start + to_clock(seconds);
      std::vector<green::Handle<Tally>> clients;
      for (int i = 0; i < kClients; ++i)
        clients.push_back(green::spawn(green::SpawnOptions{"client", kStack}, [&, i, set] {
          Tally t;
          while (Clock::now() < deadline) (once(i, set) ? t.ops : t.errors)++;
          return t;
        }));
      for (auto& c : clients) {
        Tally t = c.join();
        total.ops += t.ops;
        total.errors += t.errors;
      }
      report(client, set ? "SET" : "GET", total,
             std::chrono::duration<double>(Clock::now() - start).count(), cpu_us() - cpu_start);
    }
  }).join();
}

void run_native_green(double seconds, const std::string& url) {
  std::vector<redis::Connection> conns(kClients);
  green_clients(
      "native-green", seconds,
      [&](int i) { conns[i] = green::wait(redis::Connection::connect(url)); },
      [&](int i, bool set) {
        try {
          if (set) green::wait(conns[i].set(kKey, kValue));
          else green::wait(conns[i].get(kKey));
          return true;
        } catch (const redis::Error& e) {
          std::fprintf(stderr, "%s\n", e.what());
          return false;
        }
      });
}

aio::Task<Tally> coro_client(redis::Connection& conn, bool set, Clock::time_point deadline) {
  Tally t;
  while (Clock::now() < deadline) {
    try {
      if (set) co_await conn.set(kKey, kValue);
      else co_await conn.get(kKey);
      ++t.ops;
    } catch (const redis::Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      ++t.errors;
    }
  }
  co_return t;
}

aio::Task<void> run_native_coro(double seconds, std::string url) {
  std::vector<redis::Connection> conns;
  for (int i = 0; i < kClients; ++i) conns.push_back(co_await redis::Connection::connect(url));
  for (bool set : {true, false}) {
    double cpu_start = cpu_us();
    auto start = Clock::now();
    auto deadline = start + to_clock(seconds);
    std::vector<aio::TaskHandle<Tally>> clients;
    for (auto& c : conns) clients.push_back(aio::create_task(coro_client(c, set, deadline)));
    Tally total;
    for (auto& c : clients) {
      Tally t = co_await c;
      total.ops += t.ops;
      total.errors += t.errors;
    }
    report("native-coro", set ? "SET" : "GET", total,
           std::chrono::duration<double>(Clock::now() - start).count(), cpu_us() - cpu_start);
  }
}

void run_hiredis(double seconds, int port) {
  grove::compat::patch_all();
  std::vector<redisContext*> conns(kClients, nullptr);
  green_clients(
      "hiredis", seconds,
      [&](int i) {
        conns[i] = redisConnect("127.0.0.1", port);
        if (!conns[i] || conns[i]->err) {
          std::fprintf(stderr, "hiredis: cannot connect to 127.0.0.1:%d\n", port);
          std::exit(1);
        }
      },
      [&](int i, bool set) {
        auto* r = static_cast<redisReply*>(set ? redisCommand(conns[i], "SET %s %s", kKey, kValue)
                                               : redisCommand(conns[i], "GET %s", kKey));
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (r) freeReplyObject(r);
        return ok;
      });
  for (redisContext* c : conns) redisFree(c);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s SECONDS PORT native-green|native-coro|hiredis\n", argv[0]);
    return 2;
  }
  double seconds = std::atof(argv[1]);
  int port = std::atoi(argv[2]);
  std::string client = argv[3];
  std::string url = "redis://127.0.0.1:" + std::to_string(port);
  if (client == "native-green") run_native_green(seconds, url);
  else if (client == "native-coro") {
    green::register_green_engine();  // grove's libraries are static: nothing else does it
    aio::run(run_native_coro(seconds, url), "green");
  } else if (client == "hiredis") run_hiredis(seconds, port);
  else {
    std::fprintf(stderr, "unknown client '%s'\n", client.c_str());
    return 2;
  }
  return 0;
}
