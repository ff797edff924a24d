// The transport seam: the byte stream under HTTP/1 that a connection's green thread reads
// from and writes to: a plain socket (TCP or Unix, plain_transport.hpp) or TLS over one
// (tls_transport.hpp). The server reaches a transport through std::visit over the variant,
// so the per-request path has no virtual call. The interface every alternative has is
// described in plain_transport.hpp; TLS adds the handshake and queued records.
#pragma once

#include "plain_transport.hpp"
#include "tls_transport.hpp"

#include <utility>
#include <variant>

namespace grove::http::detail {

// Every transport a connection can run over.
using Transport = std::variant<PlainTransport, TlsTransport>;

template <class F>
decltype(auto) with_transport(Transport& t, F&& f) {
  return std::visit(std::forward<F>(f), t);
}

}  // namespace grove::http::detail
