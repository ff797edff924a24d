// grove_fault_app: a small application for the fault-injection tests (test_faults.cpp), run
// as a child process through serve() so that the command line and --workers apply. Each
// route is a fault an application can have.
//
//   /            "ok"
//   /pid         the worker's process id
//   /throw       throws std::runtime_error (the server answers 500 and carries on)
//   /block?ms=N  blocks its OS thread in usleep() for N ms (the blocking detector reports it)
//   /overflow    recurses until its green thread's stack overflows (a clear message, abort)
#include <grove/http.hpp>

#include <unistd.h>

#include <stdexcept>
#include <string>

using grove::http::Request;
using grove::http::Response;

namespace {

// Each frame keeps 1 KiB on the stack (volatile: not optimised away, not a tail call).
[[gnu::noinline]] int recurse(int depth) {
  volatile char frame[1024];
  frame[0] = char(depth);
  if (depth < 0) return 0;  // never true; keeps the compiler from calling it infinite
  return recurse(depth + 1) + frame[0];
}

Response fault(Request& req) {
  std::string_view path = req.path();
  if (path == "/") return Response::text("ok");
  if (path == "/pid") return Response::text(std::to_string(::getpid()));
  if (path == "/throw") throw std::runtime_error("fault_app: /throw always fails");
  if (path == "/block") {
    unsigned ms = 300;
    for (auto& [k, v] : grove::http::parse_query(req.query()))
      if (k == "ms") ms = unsigned(std::stoul(v));
    ::usleep(ms * 1000);  // a blocking call: the whole hub waits
    return Response::text("blocked");
  }
  if (path == "/overflow") return Response::text(std::to_string(recurse(0)));
  return Response::text("not found\n", 404);
}

}  // namespace

int main(int argc, char** argv) {
  grove::http::ServeOptions options;
  options.program = "grove_fault_app";
  options.description =
      "grove_fault_app: an application with faults, for tests/server/test_faults.cpp";
  return grove::http::serve(fault, argc, argv, options);
}
