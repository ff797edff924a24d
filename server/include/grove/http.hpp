// grove::http — the green-thread HTTP/1.1 server and its gateway interface.
//
//   #include <grove/http.hpp>
//   int main(int argc, char** argv) {
//     return grove::http::serve([](grove::http::Request&) {
//       return grove::http::Response::text("Hello, World!");
//     }, argc, argv);
//   }
#pragma once

#include <grove/http/exchange.hpp>
#include <grove/http/gateway.hpp>
#include <grove/http/headers.hpp>
#include <grove/http/parser.hpp>
#include <grove/http/serve.hpp>
#include <grove/http/server.hpp>
#include <grove/http/websocket.hpp>
