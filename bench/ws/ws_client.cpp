#include "ws_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace wsload {

void die(const std::string& what) {
  std::fprintf(stderr, "grove-wsload: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

std::string client_frame(const std::string& payload) {
  std::string f;
  f.push_back(char(0x81));
  const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (payload.size() < 126) {
    f.push_back(char(0x80 | payload.size()));
  } else {
    f.push_back(char(0x80 | 126));
    f.push_back(char(payload.size() >> 8));
    f.push_back(char(payload.size() & 0xff));
  }
  f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(char(payload[i] ^ key[i % 4]));
  return f;
}

std::size_t frame_size(const std::string& in) {
  if (in.size() < 2) return 0;
  std::size_t len = std::uint8_t(in[1]) & 0x7f, head = 2;
  if (len == 126) {
    if (in.size() < 4) return 0;
    len = (std::size_t(std::uint8_t(in[2])) << 8) | std::uint8_t(in[3]);
    head = 4;
  } else if (len == 127) {
    return in.size() + 1;
  }
  return in.size() >= head + len ? head + len : 0;
}

void write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("send");
    done += std::size_t(n);
  }
}

bool read_frame(int fd, std::string& in) {
  char buf[4096];
  for (;;) {
    if (std::size_t f = frame_size(in)) {
      if (f > in.size()) return false;
      bool data = is_data_frame(in);
      in.erase(0, f);
      if (data) return true;
      continue;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    in.append(buf, std::size_t(n));
  }
}

Upgraded open_upgraded(const Target& t) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(std::uint16_t(t.port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  write_all(fd, "GET " + t.path +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n" +
                    (t.deflate ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "") + "\r\n");
  std::string head;
  char buf[4096];
  std::size_t end;
  while ((end = head.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("reading the 101");
    head.append(buf, std::size_t(n));
  }
  if (head.rfind("HTTP/1.1 101", 0) != 0) {
    errno = EPROTO;
    die("no 101 from the server: " + head.substr(0, head.find('\r')));
  }
  Upgraded u;
  u.fd = fd;
  u.rest = head.substr(end + 4);
  head.resize(end);
  for (auto& c : head) c = char(std::tolower(static_cast<unsigned char>(c)));
  u.deflate = head.find("permessage-deflate") != std::string::npos;
  return u;
}

long rss_kib(const std::vector<int>& pids) {
  long total = 0;
  for (int pid : pids) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind("VmRSS:", 0) == 0) total += std::atol(line.c_str() + 6);
  }
  return total;
}

std::vector<int> parse_pids(const std::string& csv) {
  std::vector<int> pids;
  std::stringstream in(csv);
  std::string p;
  while (std::getline(in, p, ','))
    if (!p.empty()) pids.push_back(std::atoi(p.c_str()));
  return pids;
}

}  // namespace wsload
