// The test client's steps shared by its HTTP requests (testing.cpp) and its WebSockets
// (testing_websocket.cpp).
#pragma once

#include <grove/http/gateway.hpp>
#include <grove/web/testing.hpp>

#include <exception>
#include <string>
#include <string_view>

namespace grove::web {
class App;
}

namespace grove::web::detail {

// The request the test client sends: the target with the options' query, the headers
// (Host, and Content-Type for the body), the body, the remote address and TLS facts (the
// options must outlive the request).
grove::http::Request make_test_request(std::string method, std::string target,
                                       RequestOptions& options);
// The app as a gateway application that keeps what it lets escape in `escaped` (answering
// 500 meanwhile) and says in `streamed` whether the response is streamed.
grove::http::Application guarded_application(App& app, std::exception_ptr& escaped, bool* streamed);
// A response read back from the server's bytes (std::logic_error if they do not read).
TestResponse read_test_response(std::string_view wire, bool head_request);

}  // namespace grove::web::detail
