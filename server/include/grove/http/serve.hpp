// grove::http::serve — run an application with the standard command line.
//
//   int main(int argc, char** argv) { return grove::http::serve(app, argc, argv); }
//
//   --bind ADDR            repeatable: host:port, [v6]:port, unix:/path (default 127.0.0.1:8000)
//   --workers N            pre-forked worker processes (default 1: no fork)
//   --engine NAME          the hub's engine (default: GROVE_LOOP, else the build's default);
//                          --backend is its old name
//   --compat/--no-compat   grove::compat::patch_all() before serving (default off)
//   --max-connections N, --max-body SIZE (1048576, 512K, 4M), --max-header-bytes SIZE,
//   --max-headers N, --max-request-line SIZE
//   --header-timeout, --body-timeout, --keepalive-timeout, --write-timeout,
//   --graceful-timeout     seconds, or with a unit: 250ms, 1.5s, 2m
//   --access-log PATH|-    Combined Log Format to a file or stderr (default off)
//   --error-log PATH|-     (default stderr);  --log-level debug|info|warning|error|off
//   --version, --help
//
// A bad flag or value prints one line and exits with status 2. docs/server.md has details.
#pragma once

#include <grove/http/gateway.hpp>
#include <grove/http/server.hpp>

#include <functional>
#include <string>

namespace grove::http {

// Defaults a program may change before the command line is applied (the demo turns
// compat on), plus hooks for programs with flags of their own.
struct ServeOptions {
  std::string program;      // for --help and errors; default: argv[0]'s base name
  std::string description;  // the first line of --help
  ServerConfig config;      // the defaults
  int workers = 1;
  LogLevel log_level = LogLevel::info;
  std::string access_log;  // "" = off
  // Called with the CLI11 app (as void*, so this header does not need CLI11) to add
  // flags; `configure` sees the parsed config before serving (it may change it). What
  // `configure` throws (a std::exception) is printed as one line and serve() returns 2.
  std::function<void(void* cli11_app)> add_flags;
  std::function<void(ServerConfig&)> configure;
};

// Parses the command line, binds, prints the startup line and serves until SIGTERM or
// SIGINT. Returns the process exit status (0 after a graceful stop, 2 for a bad command
// line, 1 if the server could not start).
int serve(Application app, int argc, char** argv, ServeOptions options = {});

// Whether this build has grove::compat (so --compat can work).
bool compat_available() noexcept;

}  // namespace grove::http
