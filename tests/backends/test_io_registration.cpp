// Persistent registrations: interest that drops stays registered with the engine until an
// unwanted event comes, and a socket's registration may outlive its last watcher. None of
// that may be visible: no missed readiness, no stale events for a new file under the number.
#include "loop_support.hpp"

#include <sys/socket.h>
#include <sys/wait.h>

#include <string>
#include <vector>

using namespace grove;
using namespace grove::test;

namespace {
// A fresh connected socket pair whose first end takes over the number `at`: dup2 closes
// the file there behind the loop's back.
FdPair socketpair_at(int at) {
  auto p = FdPair::socketpair();
  REQUIRE(::dup2(p.a, at) == at);
  ::close(p.a);
  p.a = at;
  return p;
}
}  // namespace

TEST_CASE("a stopped watcher restarted after data arrived is told at once", "[io][registration]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  std::string got;
  IoWatcher w = loop->watch(p.b, Events::read, [&](Events) {
    got = take(p.b);
    loop->stop();
  });
  loop->run_once(false);  // registered
  w.stop();
  loop->run_once(false);  // interest dropped (the registration may stay)
  put(p.a, "late");
  loop->run_once(false);  // the engine may report it now, to nobody
  loop->run_once(false);
  REQUIRE(got.empty());
  w.start();
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(got == "late");
}

TEST_CASE("a direction no longer wanted is not reported", "[io][registration]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  std::vector<Events> seen;
  bool stop_on_event = false;
  IoWatcher w = loop->watch(p.b, Events::read | Events::write, [&](Events e) {
    seen.push_back(e);
    if (stop_on_event) loop->stop();
  });
  loop->run_once(false);
  REQUIRE_FALSE(seen.empty());  // a socket with room is writable
  seen.clear();
  w.set_events(Events::read);
  for (int i = 0; i < 5; ++i) loop->run_once(false);
  REQUIRE(seen.empty());  // nothing to read, and write is no longer asked for
  stop_on_event = true;
  put(p.a, "x");
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(seen == std::vector<Events>{Events::read});
}

TEST_CASE("a watcher made per wait on one socket keeps seeing its data", "[io][registration]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  for (int round = 0; round < 20; ++round) {
    const std::string msg = "round " + std::to_string(round);
    std::string got;
    IoWatcher w = loop->watch(p.b, Events::read, [&](Events) {
      got = take(p.b);
      loop->stop();
    });
    if (round % 2) put(p.a, msg);  // before the watcher is registered, or after
    else loop->call_soon([&] { put(p.a, msg); });
    REQUIRE_FALSE(run_bounded(*loop));
    REQUIRE(got == msg);
  }
}

TEST_CASE("a hang-up while a socket has no watcher reaches the next watcher",
          "[io][registration]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  {
    IoWatcher w = loop->watch(p.b, Events::read, [](Events) {});
    loop->run_once(false);
  }  // the last watcher is gone; the registration may stay
  ::close(p.a);
  p.a = -1;
  for (int i = 0; i < 3; ++i) loop->run_once(false);
  Events got = Events::none;
  IoWatcher w = loop->watch(p.b, Events::read, [&](Events e) {
    got = e;
    loop->stop();
  });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(got == Events::read);
  char c;
  REQUIRE(::read(p.b, &c, 1) == 0);  // end of file
}

TEST_CASE("a new socket under a closed one's number gets no stale events and its own",
          "[io][registration][close]") {
  auto loop = make_test_loop();
  auto old = FdPair::socketpair();
  const int number = old.b;
  {
    IoWatcher w = loop->watch(old.b, Events::read, [](Events) {});
    loop->run_once(false);
  }                     // closed, its registration possibly left behind
  put(old.a, "stale");  // the old socket is readable: a stale registration would say so
  old.b = -1;
  auto fresh = socketpair_at(number);  // closes the old socket
  std::vector<std::string> got;
  IoWatcher w = loop->watch(number, Events::read, [&](Events) {
    got.push_back(take(number));
    loop->stop();
  });
  for (int i = 0; i < 5; ++i) loop->run_once(false);
  REQUIRE(got.empty());  // the new socket has nothing to read
  put(fresh.b, "fresh");
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(got == std::vector<std::string>{"fresh"});
  w.close();
}

namespace {
// In a fork child: closes `closed` behind the loop's back, rebuilds the engine's kernel
// state, then waits on a new socket. The verdict is the exit status: 0 ok.
int child_rebuilds_after_close(EventLoop& loop, int closed) {
  ::close(closed);
  loop.reinit_after_fork();
  auto q = FdPair::socketpair();
  bool ready = false;
  IoWatcher w = loop.watch(q.b, Events::read, [&](Events) {
    ready = true;
    loop.stop();
  });
  put(q.a, "y");
  if (run_bounded(loop, 5s)) return 1;
  return ready ? 0 : 2;
}
}  // namespace

// An engine rebuilding its kernel state re-adds what it has registered: Asio throws on an
// fd that was closed meanwhile, libev asserts. A registration left behind by the last
// watcher of a socket that is then closed must not be among them.
TEST_CASE("an engine rebuilt after fork is not tripped by a socket closed after its last watcher",
          "[io][registration][fork]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  {
    IoWatcher w = loop->watch(p.b, Events::read, [](Events) {});
    put(p.a, "x");
    loop->run_once(false);  // registered, and the data reported
  }                         // the last watcher closed: a registration may stay behind
  loop->run_once(false);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) std::_Exit(child_rebuilds_after_close(*loop, p.b));
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  INFO("the child's wait status: " << status);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}
