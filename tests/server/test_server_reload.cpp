// Zero-downtime reload of `serve --workers 2` under load, end to end with grove-hello as a
// child process: SIGHUP replaces the workers (new ones first, then the old ones stop
// gracefully), SIGUSR2 re-executes the binary on the same listening sockets (the old master
// exits once the new one's workers accept). Client threads open a connection per request
// the whole time; every request must get a complete 200 from some worker: 0 failed.
#include "server_support.hpp"

#include <sys/prctl.h>

#include <mutex>
#include <set>

using namespace grove::http;
using namespace grove::http::test;

namespace {

// Clients asking /pid (the serving worker's pid) on a new connection each time, until
// stopped.
class Load {
 public:
  explicit Load(int port, int clients = 4) {
    for (int c = 0; c < clients; ++c)
      threads_.emplace_back([this, port] {
        while (!stop_) {
          one(port);
          std::this_thread::sleep_for(2ms);
        }
      });
  }
  ~Load() { finish(); }
  void finish() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  int ok() const { return ok_; }
  int failed() const { return failed_; }
  std::vector<std::string> problems() {
    std::lock_guard lock(mu_);
    return problems_;
  }
  // Pids that served since the last call.
  std::set<std::string> take_pids() {
    std::lock_guard lock(mu_);
    return std::exchange(pids_, {});
  }

 private:
  void one(int port) {
    std::string why;
    auto r = [&]() -> std::optional<std::string> {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(std::uint16_t(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        why = std::string("connect: ") + std::strerror(errno);
        ::close(fd);
        return std::nullopt;
      }
      Socket s(fd);
      s.send("GET /pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
      std::string got = s.recv_all(5000ms);
      auto body = got.find("\r\n\r\n");
      if (!got.starts_with("HTTP/1.1 200 ") || body == std::string::npos ||
          got.size() == body + 4) {
        why = "bad or missing response: '" + got.substr(0, 80) + "'";
        return std::nullopt;
      }
      return got.substr(body + 4);
    }();
    std::lock_guard lock(mu_);
    if (r) {
      ++ok_;
      pids_.insert(*r);
    } else {
      ++failed_;
      if (problems_.size() < 10) problems_.push_back(why);
    }
  }

  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  int ok_ = 0, failed_ = 0;
  std::vector<std::string> problems_;
  std::set<std::string> pids_;
};

// Lets the load run until some requests were served since the last look.
void let_load_run(Load& load) {
  const int before = load.ok();
  for (int i = 0; i < 2000 && load.ok() < before + 50; ++i) std::this_thread::sleep_for(5ms);
}

// After the switch: more load, then every request answered (some while the workers changed),
// and only new workers serving.
void check_after_switch(Load& load, const std::set<std::string>& old_pids, int ok_during) {
  (void)load.take_pids();
  let_load_run(load);
  const std::set<std::string> new_pids = load.take_pids();
  load.finish();
  INFO(load.ok() << " requests answered; problems: "
                 << (load.problems().empty() ? "" : load.problems()[0]));
  CHECK(load.failed() == 0);
  CHECK(ok_during > 0);
  CHECK(load.ok() >= 100);
  REQUIRE(!new_pids.empty());
  for (const auto& pid : new_pids) CHECK(old_pids.count(pid) == 0);
}

}  // namespace

TEST_CASE(
    "reload: SIGHUP to the --workers 2 master under load starts new workers, then stops the old "
    "ones, "
    "with 0 failed requests",
    "[server][reload]") {
  TempDir dir;
  int port = -1;
  Child c = start_hello(dir.path, {"--workers", "2", "--log-level", "debug"}, nullptr, &port);
  Load load(port);
  let_load_run(load);
  const std::set<std::string> old_pids = load.take_pids();
  const int ok_before = load.ok();
  c.signal(SIGHUP);
  const std::string log = wait_for_count(c, "old worker ", 2);  // both old workers exited
  const int ok_during = load.ok() - ok_before;
  INFO(c.log());
  REQUIRE(!log.empty());
  CHECK(log.find("reload: 2 new worker(s) accept; stopping 2 old one(s) gracefully") !=
        std::string::npos);
  check_after_switch(load, old_pids, ok_during);
  CHECK(c.log().find("starting a new one") == std::string::npos);  // no worker was "replaced"
  c.signal(SIGTERM);
  CHECK(c.wait(15000ms) == 0);
}

TEST_CASE(
    "reload: SIGUSR2 re-executes the binary on the same sockets under load, the old master exits 0 "
    "once the new one's workers accept, and 0 requests fail",
    "[server][reload]") {
  // The new master is the old one's child: once that exits, it is reparented to this process.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  struct Unreaper {
    ~Unreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
  } unreaper;
  TempDir dir;
  int port = -1;
  Child c = start_hello(dir.path, {"--workers", "2"}, nullptr, &port);
  Load load(port);
  let_load_run(load);
  const std::set<std::string> old_pids = load.take_pids();
  const int ok_before = load.ok();
  c.signal(SIGUSR2);
  CHECK(c.wait(20000ms) == 0);  // the old master, after its workers stopped
  const int ok_during = load.ok() - ok_before;
  const std::string log = c.log();
  INFO(log);
  const std::string said = "binary upgrade: the new master (pid ";
  const auto at = log.find(said);
  REQUIRE(at != std::string::npos);
  const pid_t new_master = std::stoi(log.substr(at + said.size()));
  CHECK(count_of(log, "listening on") == 2);  // the new master's startup line, same addresses
  check_after_switch(load, old_pids, ok_during);
  REQUIRE(::kill(new_master, SIGTERM) == 0);
  int status = -1;
  for (int i = 0; i < 3000; ++i) {
    if (::waitpid(new_master, &status, WNOHANG) == new_master) break;
    std::this_thread::sleep_for(5ms);
  }
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
