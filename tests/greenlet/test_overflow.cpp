// A stack overflow in a green thread names the thread and its stack size, then aborts
// (a death test: it runs in a forked child).
#include "green_support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

using namespace grove;
using namespace grove::test;

namespace {

// Recurses until the stack runs out; the volatile buffer keeps each frame on the stack.
int recurse(int depth) {
  volatile char frame[256];
  frame[0] = char(depth);
  if (depth < 0) return 0;  // never true; keeps the compiler from calling it infinite
  return recurse(depth + 1) + frame[0];
}

struct ChildResult {
  int status = 0;
  std::string err;
};

// Runs body() in a forked child with stderr captured.
template <class F>
ChildResult run_in_child(F body) {
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(pipefd[1], STDERR_FILENO);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);  // the test framework's own report of the child's crash
    ::close(pipefd[0]);
    green::hub_loop().reinit_after_fork();  // the parent's hub was copied: detach its poller
    green::install_overflow_handler();      // on top of the test framework's handler
    body();
    ::_exit(0);
  }
  ::close(pipefd[1]);
  ChildResult r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) r.err.append(buf, std::size_t(n));
  ::close(pipefd[0]);
  REQUIRE(::waitpid(pid, &r.status, 0) == pid);
  return r;
}

}  // namespace

TEST_CASE("a stack overflow prints which green thread overflowed which stack, then aborts",
          "[green][overflow][tsan]") {
  auto r = run_in_child([] {
    auto g = green::spawn(green::SpawnOptions{"deep", 64 * 1024}, [] { return recurse(0); });
    g.join();
  });
  INFO("child stderr: " << r.err);
  REQUIRE(WIFSIGNALED(r.status));
  REQUIRE(WTERMSIG(r.status) == SIGABRT);
  REQUIRE_THAT(r.err, Catch::Contains("green thread deep overflowed its 65536-byte stack"));
}

TEST_CASE("an overflow of an unnamed green thread with a custom stack names both",
          "[green][overflow][tsan]") {
  auto r = run_in_child([] {
    auto g = green::spawn(green::SpawnOptions{"", 128 * 1024}, [] { return recurse(0); });
    g.join();
  });
  INFO("child stderr: " << r.err);
  REQUIRE(WIFSIGNALED(r.status));
  REQUIRE_THAT(r.err, Catch::StartsWith("green thread green-"));
  REQUIRE_THAT(r.err, Catch::Contains(" overflowed its 131072-byte stack\n"));
}

TEST_CASE("a fault that is not an overflow still gets the default action",
          "[green][overflow][tsan]") {
  auto r = run_in_child([] {
    auto g = green::spawn([] {
      volatile int* p = nullptr;
      *p = 1;
    });
    g.join();
  });
  // Killed by SIGSEGV, or reported by a sanitizer's own handler (which we chain to).
  REQUIRE((WIFSIGNALED(r.status) || WEXITSTATUS(r.status) != 0));
  REQUIRE(r.err.find("overflowed") == std::string::npos);
}
