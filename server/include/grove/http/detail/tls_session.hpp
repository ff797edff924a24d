// One TLS connection's protocol state, without I/O: the transport feeds it the bytes read
// from the socket and sends the bytes it produces; plaintext goes in and out in between.
// OpenSSL runs over two memory BIOs, so no call here ever blocks or touches a socket, and
// OpenSSL's thread-local error queue is left empty after every call (green threads share
// the OS thread and must not see each other's errors).
//
//   TlsSession tls(context);
//   tls.receive(bytes_from_socket, n);
//   if (tls.handshake() == TlsSession::Step::done) ...
//   send_all(tls.take_output());          // after *every* call: handshake, read, write, close
//   auto r = tls.read(buf, sizeof buf);   // plaintext, or want_input / closed / failed
//   tls.write("HTTP/1.1 200 OK\r\n...");  // encrypted into the output
//
// A read may produce output too (TLS 1.3 key updates, alerts): flush after reads as well.
#pragma once

#include <grove/http/tls.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

struct ssl_st;
struct bio_st;

namespace grove::http::detail {

class TlsSession {
 public:
  enum class Step {
    done,        // handshake finished / bytes read
    want_input,  // needs more bytes from the peer
    closed,      // the peer ended the session (close_notify or the end of its input)
    failed,      // a protocol error: failure() says which; send the output (an alert), close
  };
  struct Read {
    Step step;
    std::size_t bytes = 0;  // with done
  };

  explicit TlsSession(const TlsContext& context);
  explicit TlsSession(std::shared_ptr<const TlsGeneration> generation);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Bytes the peer sent; the end of its input.
  void receive(const char* data, std::size_t n);
  void receive(std::string_view data) { receive(data.data(), data.size()); }
  void receive_end();

  // Advances the handshake with what has been received.
  Step handshake();
  bool handshake_done() const;

  // Decrypted application data (once the handshake is done).
  Read read(char* buf, std::size_t n);
  // Whether read() has decrypted bytes waiting (no socket read needed to get them).
  bool has_buffered_plaintext() const;
  // Whether received bytes are waiting, decrypted or not (a partial record counts).
  bool has_unread_input() const;

  // Encrypts `data` into the output; false after a failure (see failure()).
  bool write(std::string_view data);
  // Queues close_notify.
  void close();

  // The bytes to send to the peer.
  std::size_t output_size() const;
  std::size_t take_output(char* buf, std::size_t n);
  std::string take_output();

  // OpenSSL's reason for the last failure ("wrong version number", "no shared cipher").
  const std::string& failure() const { return failure_; }
  // Whether the peer's first bytes were an HTTP request, not a TLS record.
  bool plain_http() const { return plain_http_; }

  TlsFacts facts() const;

  // The OpenSSL object, for inspection (tests, logging); not for I/O.
  ssl_st* native() const { return ssl_; }

 private:
  Step fail_or_wait(int result);

  std::shared_ptr<const TlsGeneration> generation_;
  ssl_st* ssl_ = nullptr;
  bio_st* in_ = nullptr;   // owned by ssl_
  bio_st* out_ = nullptr;  // owned by ssl_
  std::string failure_;
  bool first_bytes_seen_ = false;
  bool plain_http_ = false;
};

}  // namespace grove::http::detail
