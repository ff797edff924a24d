// The proof with hiredis's blocking API, unmodified, against a real Redis server on
// loopback: 50 green threads block in BLPOP at once, and one more fills their lists.
#include "compat_support.hpp"
#include "services.hpp"

#include <hiredis/hiredis.h>

using namespace grove::test;

namespace {

constexpr std::size_t kStack = 256 * 1024;

// BLPOP on `key` over a connection of its own; returns the popped value or the error.
std::string blpop(int port, const std::string& key) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (!c || c->err) {
    std::string e = c ? c->errstr : "redisConnect: out of memory";
    redisFree(c);
    return "connect: " + e;
  }
  auto* r = static_cast<redisReply*>(redisCommand(c, "BLPOP %s 10", key.c_str()));
  std::string out;
  if (!r) out = std::string("BLPOP: ") + c->errstr;
  else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) out = r->element[1]->str;
  else out = "BLPOP: unexpected reply type " + std::to_string(r->type);
  freeReplyObject(r);
  redisFree(c);
  return out;
}

}  // namespace

TEST_CASE("hiredis: 50 green threads wait in BLPOP at once and all get their values",
          "[compat][proof][redis]") {
  Service* redis = grove::test::redis();
  if (!redis) return;
  compat::patch_all();
  const int port = redis->port();
  const std::string prefix = "proof:" + std::to_string(::getpid()) + ":";
  auto start = SteadyClock::now();
  std::vector<green::Handle<std::string>> waiters;
  for (int i = 0; i < 50; ++i)
    waiters.push_back(green::spawn(green::SpawnOptions{"blpop-" + std::to_string(i), kStack},
                                   [&, i] { return blpop(port, prefix + std::to_string(i)); }));
  auto filler = green::spawn(green::SpawnOptions{"filler", kStack}, [&] {
    ::usleep(100 * 1000);  // std::this_thread::sleep_for's call, patched
    redisContext* c = redisConnect("127.0.0.1", port);
    REQUIRE((c && !c->err));
    for (int i = 0; i < 50; ++i) {
      std::string key = prefix + std::to_string(i), value = "v" + std::to_string(i);
      freeReplyObject(redisCommand(c, "RPUSH %s %s", key.c_str(), value.c_str()));
    }
    redisFree(c);
  });
  int right = 0;
  for (int i = 0; i < 50; ++i) {
    std::string r = waiters[std::size_t(i)].join();
    if (r == "v" + std::to_string(i)) ++right;
    else UNSCOPED_INFO(i << ": " << r);
  }
  filler.join();
  double took = ms_since(start);
  INFO("50 BLPOPs took " << took << " ms; with the hub blocked the filler never runs");
  CHECK(right == 50);
  CHECK(took >= 100);
  CHECK(took < 2500);
}
