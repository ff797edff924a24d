// OpenSSL's error queue kept per green thread across a compat wait.
//
// OpenSSL keeps its error queue per OS thread, and every green thread of a hub shares it.
// A green thread blocked in a patched read() inside SSL_read() would otherwise resume to
// find what a sibling's failed handshake left in the queue, and SSL_get_error() (which
// looks at the queue first) would report SSL_ERROR_SSL for what was a clean close; the
// sibling's own ERR_get_error() would find its errors gone or mixed with others'.
//
// So each compat wait is bracketed: before the green thread leaves the CPU its pending
// errors move out of the queue into the waiting frame, and when it resumes the queue is
// cleared of whatever others left and its own errors are put back. A queue that is empty
// (the usual case) costs one ERR_peek_error() each way. OpenSSL is found at run time
// (dlsym): compat does not link it, and a process without it pays an atomic increment.
#pragma once

#include <string>
#include <vector>

namespace grove::compat::detail {

class KeptOpenSslErrors {
 public:
  KeptOpenSslErrors() noexcept;  // moves the queue's entries out
  ~KeptOpenSslErrors();          // clears the queue and puts them back
  KeptOpenSslErrors(const KeptOpenSslErrors&) = delete;
  KeptOpenSslErrors& operator=(const KeptOpenSslErrors&) = delete;

 private:
  struct Entry {
    unsigned long code = 0;
    std::string file;  // copies: OpenSSL frees an entry's strings with the entry
    int line = 0;
    std::string func;
    std::string data;
    bool has_data = false;
  };
  std::vector<Entry> saved_;
};

}  // namespace grove::compat::detail
