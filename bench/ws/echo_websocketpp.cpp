// The C++ anchor of bench/run_ws.sh: a WebSocket server on websocketpp (Debian
// libwebsocketpp-dev) over standalone Asio, the event library of grove's asio engine. One
// thread, no TLS, no compression, Nagle off as grove sets it, logging off.
//   /ws/echo         every message back to its sender
//   /ws/chat/<room>  every message to every connection on a /ws/chat/ path, sender included
//
//   grove-ws-websocketpp PORT
#define ASIO_STANDALONE
#define _WEBSOCKETPP_CPP11_STL_

#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

using Server = websocketpp::server<websocketpp::config::asio>;
using websocketpp::connection_hdl;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: grove-ws-websocketpp PORT\n");
    return 2;
  }
  Server server;
  std::set<connection_hdl, std::owner_less<connection_hdl>> room;
  server.clear_access_channels(websocketpp::log::alevel::all);
  server.clear_error_channels(websocketpp::log::elevel::all);
  server.init_asio();
  server.set_reuse_addr(true);
  server.set_listen_backlog(4096);
  server.set_tcp_post_init_handler([&server](connection_hdl h) {
    asio::error_code ec;
    server.get_con_from_hdl(h)->get_socket().set_option(asio::ip::tcp::no_delay(true), ec);
  });
  auto in_room = [&server](connection_hdl h) {
    return server.get_con_from_hdl(h)->get_resource().rfind("/ws/chat/", 0) == 0;
  };
  server.set_open_handler([&](connection_hdl h) {
    if (in_room(h)) room.insert(h);
  });
  server.set_close_handler([&](connection_hdl h) { room.erase(h); });
  server.set_fail_handler([&](connection_hdl h) { room.erase(h); });
  server.set_message_handler([&](connection_hdl h, Server::message_ptr msg) {
    websocketpp::lib::error_code ec;
    if (!in_room(h)) {
      server.send(h, msg->get_payload(), msg->get_opcode(), ec);
      return;
    }
    for (auto& member : room) server.send(member, msg->get_payload(), msg->get_opcode(), ec);
  });
  server.listen(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                        static_cast<unsigned short>(std::atoi(argv[1]))));
  server.start_accept();
  server.run();
}
