// Helpers of the grove::tasks tests: the test registry (also run by worker processes), a
// fresh key prefix per test, an in-process worker, and worker processes.
#pragma once

#include <grove/green.hpp>
#include <grove/green/aio.hpp>
#include <grove/tasks.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace grove::tasks::test {

using namespace std::chrono_literals;

// The tasks every test uses, in the test process and in its worker processes.
inline void register_test_tasks(Tasks& t) {
  t.task("echo", [](const Json& args) { return args; });
  t.task("add",
         [](const Json& args) { return Json(args.at("a").as_int() + args.at("b").as_int()); });
  t.task("add_async", [](const Json& args) -> aio::Task<Json> {
    co_await aio::sleep(1ms);
    co_return Json(args.at("a").as_int() + args.at("b").as_int());
  });
  t.task("fail", [](const Json& args) -> Json {
    throw std::runtime_error(args.at("message").as_string());
  });
  // Blocking sleep (usleep): cooperative only under compat (worker_main patches all). With
  // "started": a key it sets first, so a test knows the task runs (not only that it was
  // delivered).
  t.task("sleep", [&t](const Json& args) {
    if (const Json* key = args.find("started"))
      green::wait(t.pool().command("SET", key->as_string(), 1));
    ::usleep(static_cast<useconds_t>(args.at("ms").as_int() * 1000));
    return Json{{"pid", static_cast<std::int64_t>(::getpid())}};
  });
  // Kills its worker process mid-task (a poison task).
  t.task("crash", [](const Json&) -> Json { std::_Exit(3); });
  t.task("green_sleep", [](const Json& args) {
    green::sleep(std::chrono::milliseconds(args.at("ms").as_int()));
    return Json{{"pid", static_cast<std::int64_t>(::getpid())}};
  });
}

// A prefix of this test's own, so tests never see each other's queues.
inline std::string fresh_prefix() {
  static int n = 0;
  return "grove-test:" + std::to_string(::getpid()) + ":" + std::to_string(++n);
}

inline std::string redis_url(int port) { return "redis://127.0.0.1:" + std::to_string(port); }

// A Worker running in a green thread of this process while the scope lasts.
class InProcessWorker {
 public:
  InProcessWorker(Tasks& tasks, WorkerOptions options) : worker_(tasks, std::move(options)) {
    thread_ = green::spawn([this] { return worker_.run(); });
  }
  ~InProcessWorker() { stop(); }
  std::size_t stop() {
    if (!thread_) return 0;
    worker_.stop();
    std::size_t left = thread_.join();
    thread_ = {};
    return left;
  }
  Worker& worker() { return worker_; }

 private:
  Worker worker_;
  green::Handle<std::size_t> thread_;
};

// A worker process: this executable with --worker.
class WorkerProcess {
 public:
  explicit WorkerProcess(std::vector<std::string> args) {
    args.insert(args.begin(), {"/proc/self/exe", "--worker"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (int rc = ::posix_spawn(&pid_, "/proc/self/exe", nullptr, nullptr, argv.data(), environ);
        rc != 0)
      throw std::runtime_error("posix_spawn of the worker failed");
  }
  ~WorkerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int sig) { ::kill(pid_, sig); }
  // The exit status once it exits within `timeout`, else -1.
  int wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace grove::tasks::test
