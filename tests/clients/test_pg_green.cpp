// grove::pg from green threads: green::wait on the client's tasks blocks only the calling
// green thread.
#include "pg_support.hpp"

#include <grove/green.hpp>
#include <grove/green/aio.hpp>

using namespace grove;
using namespace grove::pg::test;

TEST_CASE("pg: green threads share a pool through green::wait and overlap", "[pg][green]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  pg::Pool pool({.conninfo = server->conninfo_unix(), .max_size = 20});
  auto start = SteadyClock::now();
  std::vector<green::Handle<int>> threads;
  for (int i = 0; i < 20; ++i)
    threads.push_back(green::spawn([&pool, i] {
      pg::Result r = green::wait(pool.query("SELECT $1::int AS i, pg_sleep(0.1)", i));
      // A transaction from a green thread, rolled back by scope.
      pg::PooledConnection c = green::wait(pool.acquire());
      {
        pg::Transaction tx = green::wait(c->begin());
        green::wait(c->query("SELECT 1"));
      }
      return r[0].get<int>("i");
    }));
  int sum = 0;
  for (auto& t : threads) sum += t.join();
  double took = ms_since(start);
  INFO("20 green threads took " << took << " ms");
  CHECK(sum == 19 * 20 / 2);
  CHECK(took < 1000);  // 2000 one after another
}
