// The client side of the WebSocket benchmarks (grove-wsload): blocking connect and upgrade,
// masked client frames, finding frame boundaries in what a server sends, and the resident
// memory of server processes. Shared by the echo, idle and broadcast measurements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wsload {

[[noreturn]] void die(const std::string& what);

struct Target {
  int port = 0;
  std::string path = "/ws/echo";
  bool deflate = false;  // offer permessage-deflate in the upgrade
};

// A connected, upgraded socket (blocking) and whatever the server sent after its 101.
struct Upgraded {
  int fd = -1;
  std::string rest;
  bool deflate = false;  // the server accepted permessage-deflate
};
Upgraded open_upgraded(const Target& t);

// A masked text frame of `payload` (the mask is fixed: the server must unmask either way).
std::string client_frame(const std::string& payload);

// Bytes of the first complete unmasked server frame in `in`, 0 if incomplete, or more than
// in.size() for a 64-bit length (never sent for the benchmarks' small messages: an error).
std::size_t frame_size(const std::string& in);
// Whether the frame at the start of `in` carries data (text, binary or a continuation), not
// a control frame (a ping the client does not count).
inline bool is_data_frame(const std::string& in) {
  unsigned op = std::uint8_t(in[0]) & 0x0f;
  return op == 0 || op == 1 || op == 2;
}

void write_all(int fd, const std::string& bytes);
// Reads (blocking) until one whole data frame is in `in`, and removes it; false on EOF.
bool read_frame(int fd, std::string& in);

// VmRSS summed over `pids`, KiB.
long rss_kib(const std::vector<int>& pids);
std::vector<int> parse_pids(const std::string& csv);

}  // namespace wsload
