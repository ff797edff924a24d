// The whole picture of docs/deploy.md, end to end on loopback (issue 18): nginx in front of
// two grove-demo instances (--workers 2 each, so each has a master to reload), one Redis (the
// sessions and the task queue), one PostgreSQL (the tasks' results, under a unique key) and
// two grove-worker processes. Redis and PostgreSQL are the ctest run's (scripts/
// test-services.sh); nginx, the instances and the workers are started here.
//
// One test case, its steps in order: a session written through instance A is read through B
// and through nginx's round robin; 1,000 tasks enqueued from views complete exactly once in
// effect although one worker is SIGKILLed mid-run; the four workers' metrics add up to the
// requests sent; a SIGHUP reload of A under load fails no request.
#include "http_support.hpp"
#include "services.hpp"

#include <libpq-fe.h>

#include <atomic>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

using namespace grove::web;
using namespace grove::web::test;

#if defined(GROVE_DEMO_PATH) && defined(GROVE_WORKER_PATH)

namespace {

using Clock = std::chrono::steady_clock;

bool bindable(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as the server's listeners
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(std::uint16_t(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// `n` consecutive free loopback ports, below the ephemeral range (where a suite's outgoing
// connections leave ports in TIME_WAIT): worker k's metrics listener is on the port + k.
int free_ports(int n) {
  std::mt19937 pick(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = 20000 + int(pick() % 12000);
    bool all = true;
    for (int i = 0; i < n && all; ++i) all = bindable(port + i);
    if (all) return port;
  }
  FAIL("no " << n << " consecutive free ports");
  return -1;
}

std::string make_temp_dir() {
  std::string d = "/tmp/grove-deploy-XXXXXX";
  REQUIRE(::mkdtemp(d.data()));
  ::chmod(d.c_str(), 0755);  // nginx's workers run as another user when started as root
  return d;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A child process with its stdout and stderr in `log`; SIGTERM (then SIGKILL) when it goes.
class Process {
 public:
  Process(std::vector<std::string> argv, std::string log) : log_(std::move(log)) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    REQUIRE(posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Process() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && !exited(); ++i) std::this_thread::sleep_for(50ms);
    if (!exited()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  std::string log() const { return file_text(log_); }
  void kill_now() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Waits until the log shows `text`; false if the process exits or 20 s pass first.
  bool wait_for_log(const std::string& text) {
    for (auto t0 = Clock::now(); Clock::now() - t0 < 20s; std::this_thread::sleep_for(20ms)) {
      if (log().find(text) != std::string::npos) return true;
      if (exited()) return false;
    }
    return false;
  }

 private:
  bool exited() {
    if (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
    return pid_ <= 0;
  }
  pid_t pid_ = -1;
  std::string log_;
};

// docs/deploy.md's nginx configuration, with everything nginx writes kept in `dir` and the
// backend that answered in an X-Upstream response header.
std::string nginx_conf(const std::string& dir, int listen, const std::vector<int>& backends) {
  std::string c = "worker_processes 1;\ndaemon off;\npid " + dir + "/nginx.pid;\n";
  c += "error_log " + dir + "/nginx-error.log info;\nevents { worker_connections 1024; }\nhttp {\n";
  c += "  access_log " + dir + "/nginx-access.log;\n";
  for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
    c += std::string("  ") + t + "_temp_path " + dir + "/" + t + ";\n";
  c += "  upstream grove {\n";
  for (int port : backends) c += "    server 127.0.0.1:" + std::to_string(port) + " max_fails=0;\n";
  c += "    keepalive 32;\n  }\n";
  c += "  server {\n    listen 127.0.0.1:" + std::to_string(listen) + ";\n";
  c += "    location / {\n"
       "      proxy_pass http://grove;\n"
       "      proxy_http_version 1.1;\n"
       "      proxy_set_header Connection \"\";\n"
       "      proxy_set_header Host $host;\n"
       "      proxy_next_upstream error timeout;\n"
       "      add_header X-Upstream $upstream_addr always;\n"
       "    }\n  }\n}\n";
  return c;
}

int port_of(const std::string& base) { return std::stoi(base.substr(base.rfind(':') + 1)); }

// One PostgreSQL query's rows, as text.
std::vector<std::vector<std::string>> pg_rows(const std::string& conninfo, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> c(PQconnectdb(conninfo.c_str()), PQfinish);
  INFO(PQerrorMessage(c.get()));
  REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(c.get(), sql.c_str()), PQclear);
  INFO(sql << ": " << PQresultErrorMessage(r.get()));
  REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
  std::vector<std::vector<std::string>> rows(std::size_t(PQntuples(r.get())));
  for (int i = 0; i < PQntuples(r.get()); ++i)
    for (int j = 0; j < PQnfields(r.get()); ++j)
      rows[std::size_t(i)].push_back(PQgetvalue(r.get(), i, j));
  return rows;
}

// The same off the test's thread (no Catch assertions there): -1 on any failure.
long long count_or_minus_one(const std::string& conninfo, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> c(PQconnectdb(conninfo.c_str()), PQfinish);
  if (PQstatus(c.get()) != CONNECTION_OK) return -1;
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(c.get(), sql.c_str()), PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) return -1;
  return std::atoll(PQgetvalue(r.get(), 0, 0));
}

long long pg_count(const std::string& conninfo, const std::string& sql) {
  return std::stoll(pg_rows(conninfo, sql).at(0).at(0));
}

// The sum of a metric's samples over several scrapes, for the samples whose labels include
// every one of `labels` (`route="/visits"`).
double metric_sum(const std::vector<std::string>& scrapes, const std::string& name,
                  const std::vector<std::string>& labels) {
  double sum = 0;
  for (const std::string& text : scrapes) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(name + "{", 0) != 0) continue;
      std::string head = line.substr(0, line.rfind(' '));
      bool match = true;
      for (const std::string& l : labels) match = match && head.find(l) != std::string::npos;
      if (match) sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return sum;
}

std::vector<std::string> scrape(const std::vector<int>& ports) {
  std::vector<std::string> out;
  for (int port : ports) {
    auto r = http_get("http://127.0.0.1:" + std::to_string(port) + "/metrics");
    INFO("metrics port " << port << ": " << r.error);
    CHECK(r.status == 200);
    out.push_back(r.body);
  }
  return out;
}

// GET url with the session cookie (updated from Set-Cookie).
HttpResult get_with_session(const std::string& url, std::string& cookie) {
  CurlRequest req{"GET", url};
  if (!cookie.empty()) req.headers.push_back("Cookie: " + cookie);
  HttpResult r = http(req);
  if (r.has_header("Set-Cookie")) cookie = cookie_pair(r.header("Set-Cookie"));
  return r;
}

}  // namespace

TEST_CASE(
    "nginx, two grove-demo instances, Redis, PostgreSQL and two grove-workers serve shared "
    "sessions, tasks done once across a SIGKILLed worker, metrics that add up and a reload "
    "that fails nothing",
    "[deploy]") {
  auto* pg = grove::test::postgres();
  auto* redis = grove::test::redis();
  if (!pg || !redis) return;
  const char* nginx = "/usr/sbin/nginx";
  if (::access(nginx, X_OK) != 0) {
    if (grove::test::detail::in_ci()) FAIL("nginx is not installed (scripts/install-deps.sh test)");
    WARN("nginx is not installed (apt-get install nginx-light): skipped");
    return;
  }
  const std::string dir = make_temp_dir();
  const std::string redis_url = "redis://127.0.0.1:" + std::to_string(redis->port());
  // Keys and rows of this process's own: the ctest run's servers are shared.
  const std::string prefix = "grove-deploy-test:" + std::to_string(::getpid());
  {
    std::ofstream config(dir + "/config.json");
    config << Json{{"SECRET_KEY", "deploy test secret"},
                   {"SESSION_TYPE", "redis"},
                   {"SESSION_REDIS_URL", redis_url},
                   {"SESSION_KEY_PREFIX", prefix + ":session:"}}
                  .dump();
  }
  const int metrics = free_ports(4);  // A: metrics, metrics + 1; B: metrics + 2, metrics + 3
  auto instance = [&](int metrics_port) {
    return std::make_unique<DemoProcess>(std::vector<std::string>{
        "--workers", "2", "--config", dir + "/config.json", "--redis-url", redis_url,
        "--tasks-prefix", prefix + ":tasks", "--metrics-bind",
        "127.0.0.1:" + std::to_string(metrics_port), "--keepalive-timeout", "75s"});
  };
  auto a = instance(metrics);
  auto b = instance(metrics + 2);
  const std::vector<int> metrics_ports = {metrics, metrics + 1, metrics + 2, metrics + 3};
  const int pa = port_of(a->base()), pb = port_of(b->base());

  const int proxy_port = free_ports(1);
  std::ofstream(dir + "/nginx.conf") << nginx_conf(dir, proxy_port, {pa, pb});
  Process proxy({nginx, "-p", dir, "-c", dir + "/nginx.conf", "-e", dir + "/nginx-error.log"},
                dir + "/nginx.out");
  const std::string front = "http://127.0.0.1:" + std::to_string(proxy_port);
  bool up = false;
  for (auto t0 = Clock::now(); !up && Clock::now() - t0 < 10s; std::this_thread::sleep_for(20ms))
    up = http_get(front + "/hello").status == 200;
  INFO(proxy.log() << file_text(dir + "/nginx-error.log"));
  REQUIRE(up);

  const std::string worker_args_db = pg->conninfo_tcp();
  auto worker = [&](const std::string& name) {
    auto w = std::make_unique<Process>(
        std::vector<std::string>{GROVE_WORKER_PATH, "--redis", redis_url, "--prefix",
                                 prefix + ":tasks", "--database-url", worker_args_db,
                                 "--concurrency", "50", "--visibility-timeout", "1"},
        dir + "/" + name + ".log");
    INFO(w->log());
    REQUIRE(w->wait_for_log("grove-worker: ready"));
    return w;
  };
  auto w1 = worker("worker1");
  auto w2 = worker("worker2");
  const pid_t w1_pid = w1->pid(), w2_pid = w2->pid();

  // --- Sessions: written through A, read through B, then hopping through nginx. ---------------
  std::string cookie;
  CHECK(get_with_session(a->url("/visits"), cookie).body == "1");
  REQUIRE(!cookie.empty());
  CHECK(get_with_session(b->url("/visits"), cookie).body == "2");
  std::set<std::string> upstreams;
  for (int i = 3; i <= 8; ++i) {
    HttpResult r = get_with_session(front + "/visits", cookie);
    CHECK(r.body == std::to_string(i));
    upstreams.insert(r.header("X-Upstream"));
  }
  CHECK(upstreams.size() == 2);  // nginx's round robin used both instances
  // The session lives in Redis under its id; the cookie carries only the signed id.
  int status = 0;
  std::string keys = output_of("redis-cli -p " + std::to_string(redis->port()) +
                                   " --scan --pattern '" + prefix + ":session:*'",
                               &status);
  REQUIRE(status == 0);
  CHECK(std::count(keys.begin(), keys.end(), '\n') == 1);
  std::string stored = output_of(
      "redis-cli -p " + std::to_string(redis->port()) + " GET " + keys.substr(0, keys.find('\n')),
      &status);
  CHECK(Json::parse(stored)["visits"].as_int() == 8);
  CHECK(cookie.find("visits") == std::string::npos);

  // --- Tasks: 1,000 enqueued from views through nginx; worker 1 SIGKILLed mid-run. -------------
  const std::string keyp = prefix + ":k";
  const int kTasks = 1000;
  auto enqueue = [&](int from, int to) {
    int accepted = 0;
    for (int i = from; i < to; i += 50) {
      std::vector<CurlRequest> batch;
      for (int k = i; k < std::min(to, i + 50); ++k)
        batch.push_back({"GET", front + "/tasks/record?ms=100&key=" + keyp + std::to_string(k)});
      for (auto& r : http_parallel(batch)) {
        if (r.status == 202) ++accepted;
        else UNSCOPED_INFO(r.status << " " << r.body << " " << r.error);
      }
    }
    return accepted;
  };
  const std::string mine = "key LIKE '" + keyp + "%'";
  const std::string starts = std::string(" FROM grove_demo_task_starts s WHERE s.") + mine;
  const std::string results_sql = "SELECT count(*) FROM grove_demo_task_results WHERE " + mine;
  // Worker 1 dies mid-run: once 100 tasks are done, as soon as it has tasks running (started,
  // no result yet), while the enqueueing goes on.
  const std::string w1_running = "SELECT count(*)" + starts +
                                 " AND s.pid = " + std::to_string(w1_pid) +
                                 " AND NOT EXISTS (SELECT 1 FROM grove_demo_task_results r "
                                 "WHERE r.key = s.key)";
  std::atomic<long long> running{0};
  std::thread killer([&] {
    for (auto t0 = Clock::now(); Clock::now() - t0 < 60s; std::this_thread::sleep_for(10ms)) {
      if (count_or_minus_one(worker_args_db, results_sql) < 100) continue;
      long long now_running = count_or_minus_one(worker_args_db, w1_running);
      if (now_running > 0) {
        ::kill(w1_pid, SIGKILL);
        running = now_running;
        return;
      }
    }
  });
  CHECK(enqueue(0, kTasks) == kTasks);
  killer.join();
  REQUIRE(running > 0);
  w1->kill_now();  // reaps it

  long long done = 0;
  for (auto t0 = Clock::now(); done < kTasks && Clock::now() - t0 < 30s;
       std::this_thread::sleep_for(50ms))
    done = pg_count(worker_args_db, results_sql);
  INFO(w2->log());
  // Every task took effect once: one result row per key (the key is unique), all 1,000 keys.
  CHECK(done == kTasks);
  CHECK(pg_count(worker_args_db, "SELECT count(DISTINCT key) FROM grove_demo_task_results WHERE " +
                                     mine) == kTasks);
  // The runs worker 1 lost were delivered again and finished by worker 2.
  const std::string lost_by_w1 = starts + " AND s.pid = " + std::to_string(w1_pid) +
                                 " AND NOT EXISTS (SELECT 1 FROM grove_demo_task_results r "
                                 "WHERE r.key = s.key AND r.pid = s.pid)";
  long long lost = pg_count(worker_args_db, "SELECT count(DISTINCT s.key)" + lost_by_w1);
  // (Some of the tasks running when it was counted may have finished before the kill; the
  // worker was taking new ones all along, so it died with some running.)
  CHECK(lost > 0);
  CHECK(pg_count(worker_args_db,
                 "SELECT count(DISTINCT s.key)" + lost_by_w1 +
                     " AND EXISTS (SELECT 1 FROM grove_demo_task_results r WHERE r.key = s.key "
                     "AND r.pid = " +
                     std::to_string(w2_pid) + ")") == lost);
  CHECK(pg_count(worker_args_db, "SELECT count(*)" + starts) >= kTasks + lost);
  // grove's own view of one of them: succeeded, after more than one attempt or on worker 2.
  std::string a_lost_key =
      pg_rows(worker_args_db, "SELECT s.key" + lost_by_w1 + " LIMIT 1").at(0).at(0);
  auto result = Json::parse(http_get(front + "/tasks/result/record:" + a_lost_key).body);
  CHECK(result["status"].as_string() == "succeeded");
  CHECK(result["value"]["key"].as_string() == a_lost_key);

  // --- Metrics: each worker of each instance scraped; the figures add up. ---------------------
  std::vector<std::string> scrapes = scrape(metrics_ports);
  for (std::size_t i = 0; i < scrapes.size(); ++i) {
    INFO("scrape " << i << ":\n" << scrapes[i]);
    CHECK(scrapes[i].find("worker=\"" + std::to_string(i % 2) + "\"") != std::string::npos);
  }
  CHECK(metric_sum(scrapes, "grove_http_requests_total",
                   {"route=\"/tasks/record\"", "status=\"202\""}) == kTasks);
  CHECK(metric_sum(scrapes, "grove_http_requests_total", {"route=\"/visits\"", "status=\"200\""}) ==
        8);
  CHECK(metric_sum(scrapes, "grove_http_requests_total", {"status=\"5"}) == 0);
  // The queue's figures (the same Redis, read by every instance): all done, none left.
  CHECK(metric_sum({scrapes[0]}, "grove_tasks_completed_total", {"queue=\"default\""}) >= kTasks);
  CHECK(metric_sum({scrapes[0]}, "grove_tasks_queue_length", {"queue=\"default\""}) == 0);
  CHECK(metric_sum({scrapes[0]}, "grove_tasks_pending", {"queue=\"default\""}) == 0);
  CHECK(metric_sum({scrapes[0]}, "grove_tasks_dead_letters", {"queue=\"default\""}) == 0);

  // --- Reload: SIGHUP to A's master under load, through nginx and straight to A. --------------
  std::atomic<bool> stop_load{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::string> failures(4);
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c)
    clients.emplace_back([&, c] {
      const std::string url = (c % 2 ? front : a->base()) + "/hello";
      while (!stop_load) {
        HttpResult r = http_get(url);
        if (r.status == 200 && r.body == "Hello, World!") ++ok;
        else {
          ++failed;
          failures[std::size_t(c)] = std::to_string(r.status) + " " + r.error;
        }
      }
    });
  std::this_thread::sleep_for(300ms);
  const int before_reload = ok;
  ::kill(a->pid(), SIGHUP);
  bool reloaded = false;
  for (auto t0 = Clock::now(); !reloaded && Clock::now() - t0 < 30s;
       std::this_thread::sleep_for(20ms))
    reloaded = a->output().find("new worker(s) accept; stopping") != std::string::npos;
  std::this_thread::sleep_for(500ms);  // the old workers drain while the load goes on
  stop_load = true;
  for (auto& t : clients) t.join();
  INFO(a->output());
  std::string failure_text;
  for (auto& f : failures) failure_text += f + "\n";
  INFO(failure_text);
  CHECK(reloaded);
  CHECK(before_reload > 0);
  CHECK(ok > before_reload);
  CHECK(failed == 0);
  // A's new workers count from zero: once the old ones are gone (their metrics listeners
  // share the ports until they exit), A's metrics no longer hold the tasks' requests.
  double old_requests = -1;
  for (auto t0 = Clock::now(); old_requests != 0 && Clock::now() - t0 < 20s;
       std::this_thread::sleep_for(50ms))
    old_requests = metric_sum(scrape({metrics, metrics + 1}), "grove_http_requests_total",
                              {"route=\"/tasks/record\""});
  CHECK(old_requests == 0);

  pg_rows(worker_args_db,
          "WITH s AS (DELETE FROM grove_demo_task_starts WHERE " + mine +
              " RETURNING 1), r AS (DELETE FROM grove_demo_task_results WHERE " + mine +
              " RETURNING 1) SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM r)");
  b.reset();
  a.reset();
  std::system(("rm -rf " + dir).c_str());
}

#endif
