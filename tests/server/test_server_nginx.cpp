// Several grove instances behind nginx (docs/deploy.md): both serve through an upstream
// block with keep-alive, and stopping one gracefully under load loses no request;
// WebSockets pass through nginx (with permessage-deflate), and a graceful stop's 1001
// reaches the client through it.
#include "server_support.hpp"

#include <set>

using namespace grove::http;
using namespace grove::http::test;

namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string nginx_path() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"})
    if (::access(p, X_OK) == 0) return p;
  return {};
}

// The configuration docs/deploy.md shows, with everything nginx writes kept in `dir`.
std::string nginx_conf(const std::string& dir, int listen, int a, int b) {
  return "worker_processes 1;\n"
         "daemon off;\n"
         "pid " +
         dir +
         "/nginx.pid;\n"
         "error_log " +
         dir +
         "/error.log info;\n"
         "events { worker_connections 1024; }\n"
         "http {\n"
         "  access_log " +
         dir +
         "/access.log;\n"
         "  client_body_temp_path " +
         dir +
         "/body;\n"
         "  proxy_temp_path " +
         dir +
         "/proxy;\n"
         "  fastcgi_temp_path " +
         dir +
         "/fastcgi;\n"
         "  uwsgi_temp_path " +
         dir +
         "/uwsgi;\n"
         "  scgi_temp_path " +
         dir +
         "/scgi;\n"
         "  upstream grove {\n"
         "    server 127.0.0.1:" +
         std::to_string(a) +
         " max_fails=0;\n"
         "    server 127.0.0.1:" +
         std::to_string(b) +
         " max_fails=0;\n"
         "    keepalive 32;\n"
         "  }\n"
         "  server {\n"
         "    listen 127.0.0.1:" +
         std::to_string(listen) +
         ";\n"
         "    location /ws/ {\n"
         "      proxy_pass http://grove;\n"
         "      proxy_http_version 1.1;\n"
         "      proxy_set_header Upgrade $http_upgrade;\n"
         "      proxy_set_header Connection \"upgrade\";\n"
         "      proxy_read_timeout 1h;\n"
         "    }\n"
         "    location / {\n"
         "      proxy_pass http://grove;\n"
         "      proxy_http_version 1.1;\n"
         "      proxy_set_header Connection \"\";\n"
         "      proxy_next_upstream error timeout;\n"
         "    }\n"
         "  }\n"
         "}\n";
}

// Starts nginx in front of grove-hello instances on ports `a` and `b`, listening on *port.
Child start_nginx(const std::string& nginx, const std::string& dir, int a, int b, int* port) {
  *port = free_port();
  std::ofstream(dir + "/nginx.conf") << nginx_conf(dir, *port, a, b);
  Child proxy({nginx, "-p", dir, "-c", dir + "/nginx.conf", "-e", dir + "/error.log"},
              dir + "/nginx.out");
  bool up = false;
  for (auto t0 = SteadyClock::now(); !up && seconds_since(t0) < 10.0;) {
    auto r = try_get(*port, "/");
    up = r && r->status == 200;
    if (!up) std::this_thread::sleep_for(20ms);
  }
  INFO(proxy.log() << read_file(dir + "/error.log"));
  REQUIRE(up);
  return proxy;
}

}  // namespace

TEST_CASE("nginx in front of two grove instances: both serve, a graceful stop loses nothing") {
  std::string nginx = nginx_path();
  if (nginx.empty()) {
    WARN("nginx is not installed (apt-get install nginx-light)");
    return;
  }
  std::string dir = temp_dir();
  ::chmod(dir.c_str(), 0755);  // nginx's workers may run as another user when started as root
  int pa = -1, pb = -1;
  Child a = start_hello(dir, {"--keepalive-timeout", "60s"}, nullptr, &pa, "a.log");
  Child b = start_hello(dir, {"--keepalive-timeout", "60s"}, nullptr, &pb, "b.log");
  int port = 0;
  Child proxy = start_nginx(nginx, dir, pa, pb, &port);

  // Both instances serve (nginx alternates between them).
  std::set<std::string> pids;
  for (int i = 0; i < 20; ++i)
    if (auto r = try_get(port, "/pid")) pids.insert(r->body);
  CHECK(pids.size() == 2);

  // Load through nginx over keep-alive connections; stop instance A in the middle.
  constexpr int kClients = 6;
  std::atomic<int> ok{0}, bad{0};
  std::atomic<bool> stop_load{false};
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      int sent = 0;
      auto t0 = SteadyClock::now();
      while (!stop_load && seconds_since(t0) < 8.0 && sent < 5000) {
        Socket s;
        try {
          s = Socket::tcp(port);
        } catch (...) {
          ++bad;
          errors[std::size_t(c)] = "cannot connect to nginx";
          return;
        }
        ResponseReader rr(s);
        for (int k = 0; k < 50 && !stop_load; ++k, ++sent) {
          if (!s.try_send("GET /sleep?ms=2 HTTP/1.1\r\nHost: t\r\n\r\n")) break;
          auto r = rr.next(false, 5000ms);
          if (!r || r->status != 200 || r->body != "ok") {
            ++bad;
            errors[std::size_t(c)] =
                r ? "status " + std::to_string(r->status) + " " + r->body : "no response";
            return;
          }
          ++ok;
        }
      }
    });
  }
  std::this_thread::sleep_for(700ms);
  int before = ok.load();
  a.signal(SIGTERM);
  CHECK(a.wait(10000ms) == 0);
  std::this_thread::sleep_for(700ms);
  stop_load = true;
  for (auto& t : clients) t.join();
  for (auto& e : errors) CHECK(e.empty());
  CHECK(bad == 0);
  CHECK(before > 50);
  CHECK(ok > before);
  // B carries on alone.
  for (int i = 0; i < 5; ++i) {
    auto r = try_get(port, "/pid");
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  proxy.signal(SIGQUIT);  // nginx's graceful shutdown
  proxy.wait(5000ms);
  b.signal(SIGTERM);
  CHECK(b.wait(10000ms) == 0);
  run_command("rm -rf '" + dir + "'");
}

TEST_CASE(
    "nginx in front: WebSockets pass through, and a graceful stop's 1001 reaches the client") {
  std::string nginx = nginx_path();
  if (nginx.empty()) {
    WARN("nginx is not installed (apt-get install nginx-light)");
    return;
  }
  if (run_command(python3() + " -c 'import websockets'") != 0) {
    WARN("python3-websockets is not installed (scripts/install-deps.sh test)");
    return;
  }
  std::string dir = temp_dir();
  ::chmod(dir.c_str(), 0755);
  int pa = -1;
  Child a = start_hello(dir, {}, nullptr, &pa, "a.log");
  int port = 0;
  Child proxy = start_nginx(nginx, dir, pa, pa, &port);
  std::string script = dir + "/client.py";
  std::ofstream(script) << R"py(
import asyncio, sys, websockets
async def main():
    url = "ws://127.0.0.1:%s/ws/echo" % sys.argv[1]
    for compression in (None, "deflate"):
        async with websockets.connect(url, compression=compression) as ws:
            await ws.send("through nginx " + str(compression))
            print(await ws.recv(), flush=True)
            await ws.send(b"x" * 300000)
            print("binary", len(await ws.recv()), flush=True)
    async with websockets.connect(url) as ws:
        await ws.send("before the stop")
        print(await ws.recv(), flush=True)
        print("ready", flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 20)
        except websockets.exceptions.ConnectionClosed as e:
            print("closed", e.code, flush=True)
asyncio.run(main())
)py";
  FILE* p = ::popen((python3() + " " + script + " " + std::to_string(port) + " 2>&1").c_str(), "r");
  REQUIRE(p);
  std::string out;
  char line[512];
  while (std::fgets(line, sizeof line, p)) {
    out += line;
    if (std::string(line) == "ready\n") a.signal(SIGTERM);  // grove says 1001 through nginx
  }
  int status = ::pclose(p);
  INFO(out << read_file(dir + "/error.log"));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(out ==
        "through nginx None\n"
        "binary 300000\n"
        "through nginx deflate\n"
        "binary 300000\n"
        "before the stop\n"
        "ready\n"
        "closed 1001\n");
  CHECK(a.wait(10000ms) == 0);
  proxy.signal(SIGQUIT);
  proxy.wait(5000ms);
  run_command("rm -rf '" + dir + "'");
}
