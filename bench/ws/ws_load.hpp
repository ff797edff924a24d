// grove-wsload's measurements, one per file: the closed-loop echo (ws_load.cpp), the memory
// of idle connections (ws_idle.cpp) and the broadcast to every connection (ws_broadcast.cpp).
#pragma once

#include "ws_client.hpp"

#include <cstddef>
#include <string>

namespace wsload {

struct Options {
  std::string mode = "echo";  // echo | idle | broadcast
  Target target;
  int connections = 100;
  double duration = 5;    // echo: seconds of load
  std::size_t size = 32;  // bytes per message
  std::string pids;       // idle, broadcast: the server's processes, for their VmRSS
  double settle = 1.0;    // idle, broadcast: seconds between the last connect and the RSS
  int rounds = 10;        // broadcast: single messages, each awaited by every client
  int burst = 10;         // broadcast: then this many back to back
  double timeout = 20;    // broadcast: seconds to wait for one round or the burst
};

int run_echo(const Options& o);
int run_idle(const Options& o);
int run_broadcast(const Options& o);

}  // namespace wsload
