// The floor for the ping-pong row: a hand-written level-triggered epoll loop.
#include "common.hpp"

#include <sys/epoll.h>

namespace loop_bench {

void epoll_pingpong(benchmark::State& state) {
  SocketPair sp;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  for (int fd : {sp.a, sp.b}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  }
  epoll_event events[64];
  while (state.KeepRunningBatch(kPingBatch)) {
    int remaining = kPingBatch;
    write1(sp.a);
    while (remaining > 0) {
      int n = ::epoll_wait(ep, events, 64, -1);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        read1(fd);
        if (fd == sp.b) write1(sp.b);
        else if (--remaining > 0) write1(sp.a);
      }
    }
  }
  ::close(ep);
}

}  // namespace loop_bench
