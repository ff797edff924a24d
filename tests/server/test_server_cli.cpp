// serve(): the command line, the startup line, signals, workers and the logs, through the
// grove-hello example.
#include "server_support.hpp"

#include <algorithm>
#include <regex>
#include <set>

using namespace grove::http;
using namespace grove::http::test;

namespace {
int hello_status(const std::string& args, std::string* out) {
  return run_command(std::string(GROVE_HELLO_PATH) + " " + args, out);
}
}  // namespace

TEST_CASE("the flag --help lists the standard flags and exits 0") {
  std::string out;
  CHECK(hello_status("--help", &out) == 0);
  for (const char* flag :
       {"--bind", "--workers", "--engine", "--compat", "--no-compat", "--max-connections",
        "--max-body", "--header-timeout", "--body-timeout", "--keepalive-timeout",
        "--write-timeout", "--access-log", "--log-level", "--version", "--ws-max-message",
        "--ws-max-frame", "--ws-ping-interval", "--ws-ping-timeout", "--ws-idle-timeout"})
    CHECK(out.find(flag) != std::string::npos);
}

TEST_CASE("the flag --version names the version, the built engines and the default engine") {
  std::string out;
  CHECK(hello_status("--version", &out) == 0);
  CHECK(out.find("grove " + std::string(grove::version())) != std::string::npos);
  CHECK(out.find("engines: ") != std::string::npos);
  CHECK(out.find("default engine: " + grove::default_engine()) != std::string::npos);
  for (auto& e : grove::built_engines())
    if (e != "green") CHECK(out.find(e) != std::string::npos);
}

TEST_CASE("a bad flag or value gives one line on stderr and exit status 2") {
  for (const char* args : {"--workers 0",
                           "--workers many",
                           "--bind nohost",
                           "--bind 127.0.0.1:99999",
                           "--bind [::1",
                           "--bind unix:",
                           "--max-body 5X",
                           "--max-body -1",
                           "--header-timeout soon",
                           "--keepalive-timeout 0",
                           "--log-level loud",
                           "--engine nope",
                           "--max-connections 0",
                           "--no-such-flag",
                           "--write-timeout 5h",
                           "--ws-max-message 0",
                           "--ws-max-frame 2X",
                           "--ws-ping-interval soon",
                           "--ws-ping-interval 1s --ws-ping-timeout 0",
                           "--ws-idle-timeout -1"}) {
    std::string out;
    INFO(args);
    CHECK(hello_status(args, &out) == 2);
    INFO(out);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    CHECK(out.rfind("grove-hello: error: ", 0) == 0);
  }
}

TEST_CASE("the startup line names the engine, the workers, compat and every address") {
  TempDir dir;
  const auto engines = grove::built_engines();
  for (auto& engine : engines) {
    if (engine == "green") continue;
    int port = -1;
    // The last engine is chosen by the flag's old name, --backend, which is still accepted.
    const std::string flag = &engine == &engines.back() ? "--backend" : "--engine";
    Child c = start_hello(
        dir.path, {flag, engine, "--bind", "127.0.0.1:0", "--bind", "unix:" + dir.path + "/s.sock"},
        nullptr, &port);
    std::string log = c.log();
    INFO(log);
    CHECK(log.find("engine " + engine) != std::string::npos);
    CHECK(log.find("1 worker") != std::string::npos);
    CHECK(log.find("compat off") != std::string::npos);
    CHECK(log.find("http://127.0.0.1:" + std::to_string(port)) != std::string::npos);
    CHECK(log.find("unix:" + dir.path + "/s.sock") != std::string::npos);
    CHECK(get(port, "/").body == "Hello, World!");
    c.signal(SIGTERM);
    CHECK(c.wait() == 0);
  }
}

TEST_CASE("the flag --compat patches and says so") {
  if (!compat_available()) {
    WARN("grove::compat is not built");
    return;
  }
  TempDir dir;
  int port = -1;
  Child c = start_hello(dir.path, {"--compat"}, nullptr, &port);
  CHECK(c.log().find("compat on") != std::string::npos);
  CHECK(get(port, "/sleep?ms=10").body == "ok");
  c.signal(SIGINT);
  CHECK(c.wait() == 0);
}

TEST_CASE("SIGTERM and SIGINT stop gracefully: the in-flight request is answered, exit 0") {
  TempDir dir;
  for (int sig : {SIGTERM, SIGINT}) {
    int port = -1;
    Child c = start_hello(dir.path, {}, nullptr, &port);
    Socket s = Socket::tcp(port);
    s.send("GET /sleep?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n");
    std::this_thread::sleep_for(100ms);
    c.signal(sig);
    bool closed = false;
    std::string all = s.recv_all(5000ms, &closed);
    CHECK(all.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(all.find("ok") != std::string::npos);
    CHECK(closed);
    CHECK(c.wait() == 0);
    CHECK(c.log().find("stopping gracefully") != std::string::npos);
  }
}

TEST_CASE("the flag --max-body and the timeouts from the command line take effect") {
  TempDir dir;
  int port = -1;
  Child c =
      start_hello(dir.path, {"--max-body", "1K", "--header-timeout", "200ms"}, nullptr, &port);
  auto big = request(port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n");
  CHECK(big.status == 413);
  Socket idle = Socket::tcp(port);
  CHECK(idle.closed_by_peer(2000ms));
  c.signal(SIGTERM);
  CHECK(c.wait() == 0);
}

TEST_CASE("the flag --access-log writes the Combined Log Format") {
  TempDir dir;
  int port = -1;
  std::string access = dir.path + "/access.log";
  Child c = start_hello(dir.path, {"--access-log", access}, nullptr, &port);
  request(port,
          "GET /info?q=1 HTTP/1.1\r\nHost: t\r\nReferer: http://ref/\r\nUser-Agent: tester "
          "\"quoted\"\r\n\r\n");
  request(port, "GET  /broken HTTP/1.1\r\nHost: t\r\n\r\n");
  c.signal(SIGTERM);
  CHECK(c.wait() == 0);
  std::string log = read_file(access);
  INFO(log);
  // host ident user [date] "request" status bytes "referer" "user-agent"
  std::regex combined(
      R"re(127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET /info\?q=1 HTTP/1\.1" 200 \d+ "http://ref/" "tester \\x22quoted\\x22")re");
  CHECK(std::regex_search(log, combined));
  CHECK(std::regex_search(log, std::regex(R"re("-" 400 \d+ "-" "-")re")));
}

TEST_CASE(
    "the flag --workers 2: two processes serve, a crashed worker is replaced, SIGTERM stops all") {
  TempDir dir;
  int port = -1;
  Child c = start_hello(dir.path, {"--workers", "2"}, nullptr, &port);
  CHECK(c.log().find("2 workers") != std::string::npos);
  std::set<std::string> pids;
  auto t0 = SteadyClock::now();
  // New connections spread over the workers; give them a bounded number of tries.
  while (pids.size() < 2 && seconds_since(t0) < 10.0) {
    std::vector<Socket> conns;
    for (int i = 0; i < 8; ++i) {
      conns.push_back(Socket::tcp(port));
      conns.back().send("GET /sleep?ms=20 HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    for (auto& s : conns) {
      ResponseReader rr(s);
      REQUIRE(rr.next());
    }
    if (auto r = try_get(port, "/pid")) pids.insert(r->body);
  }
  CHECK(pids.size() == 2);
  // Crash one: the master logs it and starts another; serving continues.
  {
    Socket s = Socket::tcp(port);
    s.send("GET /crash HTTP/1.1\r\nHost: t\r\n\r\n");
    s.recv_all(3000ms);  // the worker dies: no response, the connection drops
  }
  CHECK(!c.wait_for_log("starting a new one", 5000ms).empty());
  bool served = false;
  t0 = SteadyClock::now();
  while (!served && seconds_since(t0) < 5.0) {
    auto r = try_get(port, "/");
    served = r && r->status == 200;
  }
  CHECK(served);
  c.signal(SIGTERM);
  CHECK(c.wait(15000ms) == 0);
  // No worker is left behind.
  for (auto& p : pids) CHECK(::kill(std::stoi(p), 0) != 0);
}

// serve --workers: at SIGTERM the master lets go of its copies of the listening sockets before
// it signals a worker. The other way round, a worker could drain the accept queue and close
// its copy first, leaving the master's the last: connections completed that nobody accepts,
// reset at the master's exit. The master's debug log shows the order.
TEST_CASE("the flag --workers 2: the master lets go of the listeners before it signals a worker") {
  TempDir dir;
  int port = -1;
  Child c = start_hello(dir.path, {"--workers", "2", "--log-level", "debug"}, nullptr, &port);
  REQUIRE(get(port, "/").status == 200);
  c.signal(SIGTERM);
  CHECK(c.wait(15000ms) == 0);
  const std::string log = c.log();
  INFO(log);
  const auto released = log.find("master: let go of the listening sockets");
  const auto signalled = log.find("master: sent SIGTERM to worker");
  REQUIRE(released != std::string::npos);
  REQUIRE(signalled != std::string::npos);
  CHECK(released < signalled);
}
