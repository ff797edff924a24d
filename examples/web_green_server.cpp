// Running the green-thread server with compat enabled, in one program.
//
// compat::patch_all() makes libc's blocking calls cooperative inside green threads: the
// /slow view below calls plain usleep() and a hand-written blocking socket client calls
// connect()/send()/recv(), and yet fifty of each run at once on one OS thread. Without the
// patch the same code would take turns (50 x 200 ms = 10 s).
//
//   build/examples/grove-web-green-server            # self-test: serve, drive, stop, report
//   build/examples/grove-web-green-server --serve    # just serve, with the standard flags
//
// In a program of your own, `grove::http::serve(app.application(), argc, argv)` with
// `--compat` does the patching; grove-demo turns it on by default.
#include <grove/compat.hpp>
#include <grove/green.hpp>
#include <grove/http.hpp>
#include <grove/web.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

namespace web = grove::web;
namespace green = grove::green;
using namespace std::chrono_literals;

// A blocking HTTP/1.0 GET written with raw libc calls: nothing grove-specific in it.
std::string blocking_get(const sockaddr_in& addr, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return "connect failed";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  ::send(fd, req.data(), req.size(), 0);
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) response.append(buf, std::size_t(n));
  ::close(fd);
  auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? response : response.substr(body + 4);
}

int main(int argc, char** argv) {
  web::App app("green-server");
  app.route("/slow", [] {
    ::usleep(200'000);  // plain libc: cooperative in a green thread once patched
    return "done";
  });

  if (argc > 1 && std::strcmp(argv[1], "--serve") == 0) {
    grove::http::ServeOptions options;
    options.config.compat = true;
    return grove::http::serve(app.application(), argc - 1, argv + 1, std::move(options));
  }

  grove::compat::patch_all();  // first thing, before any other thread exists

  grove::http::ServerConfig config;
  config.binds = {"127.0.0.1:0"};
  config.handle_signals = false;
  config.compat = true;
  grove::http::Server server(app.application(), config);
  server.start();  // accept loops on this thread's hub
  std::string address = server.addresses().front();
  std::printf("serving on http://%s with compat %s\n", address.c_str(),
              grove::compat::to_string(grove::compat::patched()).c_str());

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);

  constexpr int kClients = 50;
  auto start = std::chrono::steady_clock::now();
  std::vector<green::Handle<std::string>> clients;
  for (int i = 0; i < kClients; ++i)
    clients.push_back(green::spawn([&addr] { return blocking_get(addr, "/slow"); }));
  int ok = 0;
  for (auto& c : clients) {
    std::string got = c.join();
    if (got == "done") ++ok;
    else if (ok == 0) std::printf("a client got: %s\n", got.substr(0, 200).c_str());
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  std::printf(
      "%d/%d blocking clients got their answer from a view that sleeps 200 ms, in %lld ms in "
      "total\n",
      ok, kClients, static_cast<long long>(ms));
  server.stop(1s);
  bool pass = ok == kClients && ms < 2000;
  std::printf("%s\n", pass ? "ok: they all ran at once" : "FAILED");
  return pass ? 0 : 1;
}
