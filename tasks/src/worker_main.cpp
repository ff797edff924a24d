// worker_main: the command line of an application's worker binary (grove-worker).
#include <grove/compat.hpp>
#include <grove/green.hpp>
#include <grove/tasks/worker.hpp>

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <unistd.h>

namespace grove::tasks {

namespace {

Duration seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

std::vector<std::string> split_queues(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string q; std::getline(in, q, ',');)
    if (!q.empty()) out.push_back(q);
  return out;
}

}  // namespace

int worker_main(int argc, char** argv, Tasks& tasks, WorkerMainOptions options) {
  TasksOptions to = tasks.options();
  std::string queues = "default";
  double visibility = 60, grace = 30;
  std::size_t concurrency = 100;
  std::int64_t max_deliveries = WorkerOptions{}.max_deliveries;
  CLI::App cli{"grove-worker: runs the registered background tasks of its queues (docs/tasks.md)"};
  cli.add_option("--redis", to.url, "Redis URL (redis://host:port/db)")->capture_default_str();
  cli.add_option("--prefix", to.prefix, "Key prefix of the application's tasks")
      ->capture_default_str();
  cli.add_option("--queues", queues, "Comma-separated queues to run")->capture_default_str();
  cli.add_option("--concurrency", concurrency, "Tasks run at once (green threads)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t(1), std::size_t(100000)));
  cli.add_option(
         "--visibility-timeout", visibility,
         "Seconds a task may stay pending without its worker before another worker takes it")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cli.add_option(
         "--max-deliveries", max_deliveries,
         "Times a task may be handed out (its workers lost) before it goes to the dead letters")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cli.add_option("--grace", grace, "Seconds running tasks get to finish after SIGTERM")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  if (options.add_flags) options.add_flags(&cli);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  }
  // Before any thread starts: blocking calls in tasks now wait on the hub.
  compat::patch_all();
  try {
    if (options.before_run) options.before_run();
    tasks.configure(to);
    WorkerOptions wo;
    wo.queues = split_queues(queues);
    wo.concurrency = concurrency;
    wo.visibility_timeout = seconds(visibility);
    wo.grace = seconds(grace);
    wo.max_deliveries = max_deliveries;
    wo.poll_interval = std::min<Duration>(200ms, wo.visibility_timeout / 3);
    wo.on_ready = [] {
      std::printf("grove-worker: ready\n");
      std::fflush(stdout);
    };
    Worker worker(tasks, std::move(wo));
    auto on_signal = [&worker](int) { worker.stop(); };
    SignalWatcher term = green::hub_loop().watch_signal(SIGTERM, on_signal);
    SignalWatcher interrupt = green::hub_loop().watch_signal(SIGINT, on_signal);
    term.unref();
    interrupt.unref();
    std::size_t left = worker.run();
    if (left > 0) {
      std::fprintf(
          stderr,
          "grove-worker: the grace period ended with %zu task(s) running: left pending for "
          "another worker\n",
          left);
      std::fflush(nullptr);
      ::_exit(0);  // no unwinding: an abandoned task must not be acknowledged
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "grove-worker: %s\n", e.what());
    return 1;
  }
}

}  // namespace grove::tasks
