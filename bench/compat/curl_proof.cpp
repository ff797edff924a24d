// compat_curl_proof [N] [DELAY_MS] [ROUNDS]: the libcurl proof as a timed program.
// A loopback HTTP endpoint (plain blocking socket code in green threads) answers each
// request after DELAY_MS; N green threads each fetch it once with libcurl's blocking easy
// API. Prints the best and median wall time of ROUNDS runs, in ms, as
// "curl_proof n=N delay_ms=D best_ms=B median_ms=M ok=K".
#include <grove/compat.hpp>
#include <grove/green.hpp>

#include <curl/curl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace green = grove::green;

namespace {

std::size_t discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

void serve(int c, int delay_ms) {
  std::string request;
  char buf[2048];
  while (request.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(c, buf, sizeof buf, 0);
    if (n <= 0) {
      ::close(c);
      return;
    }
    request.append(buf, std::size_t(n));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  static const char response[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  ::send(c, response, sizeof response - 1, MSG_NOSIGNAL);
  ::close(c);
}

}  // namespace

int main(int argc, char** argv) {
  grove::compat::patch_all();
  int n = argc > 1 ? std::atoi(argv[1]) : 50;
  int delay_ms = argc > 2 ? std::atoi(argv[2]) : 100;
  int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  curl_global_init(CURL_GLOBAL_DEFAULT);

  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1024) != 0) {
    std::perror("listen");
    return 1;
  }
  socklen_t len = sizeof a;
  ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  std::string url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/";
  auto acceptor = green::spawn([&] {
    for (;;) {
      int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      green::spawn([c, delay_ms] { serve(c, delay_ms); });
    }
  });

  std::vector<double> times;
  int ok = 0;
  for (int r = 0; r < rounds; ++r) {
    ok = 0;
    auto start = std::chrono::steady_clock::now();
    std::vector<green::Handle<bool>> fetches;
    for (int i = 0; i < n; ++i)
      fetches.push_back(green::spawn(green::SpawnOptions{"curl", 256 * 1024}, [&url] {
        CURL* easy = curl_easy_init();
        curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
        CURLcode rc = curl_easy_perform(easy);
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(easy);
        return rc == CURLE_OK && status == 200;
      }));
    for (auto& f : fetches) ok += f.join() ? 1 : 0;
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  acceptor.kill();
  std::sort(times.begin(), times.end());
  std::printf("curl_proof n=%d delay_ms=%d best_ms=%.1f median_ms=%.1f ok=%d engine=%s\n", n,
              delay_ms, times.front(), times[times.size() / 2], ok, green::hub_engine().c_str());
  return ok == n ? 0 : 1;
}
