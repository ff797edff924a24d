// OpenSSL's error queue kept per green thread across a compat wait (openssl_errors.hpp).
// Why here and not around each SSL call: compat cannot see SSL calls (libcurl, libpq and
// user code call OpenSSL directly), but it owns every point where a green thread inside
// them leaves the CPU, and the queue can only change hands there.
#include "openssl_errors.hpp"

#include <openssl/err.h>  // only ERR_GET_LIB / ERR_GET_REASON (inline) and ERR_TXT_STRING

#include <dlfcn.h>

#include <atomic>
#include <mutex>

namespace grove::compat::detail {

namespace {

// OpenSSL 3's entry points, found in the process at run time.
struct Api {
  unsigned long (*peek)();
  unsigned long (*get_all)(const char**, int*, const char**, const char**, int*);
  void (*clear)();
  void (*new_entry)();
  void (*set_debug)(const char*, int, const char*);
  void (*set_error)(int, int, const char*, ...);
};

std::atomic<const Api*> g_api{nullptr};
std::atomic<unsigned> g_misses{0};

template <class F>
bool find(F& f, const char* name) {
  f = reinterpret_cast<F>(::dlsym(RTLD_DEFAULT, name));
  return f != nullptr;
}

// The API once libcrypto is in the process. Until then one wait in 256 looks again (a
// library loaded later with dlopen is found soon; the other waits pay one atomic load).
const Api* api() noexcept {
  if (const Api* a = g_api.load(std::memory_order_acquire)) return a;
  if (g_misses.fetch_add(1, std::memory_order_relaxed) % 256 != 0) return nullptr;
  static std::mutex m;
  static Api found;
  std::lock_guard lock(m);
  if (const Api* a = g_api.load(std::memory_order_acquire)) return a;
  if (find(found.peek, "ERR_peek_error") && find(found.get_all, "ERR_get_error_all") &&
      find(found.clear, "ERR_clear_error") && find(found.new_entry, "ERR_new") &&
      find(found.set_debug, "ERR_set_debug") && find(found.set_error, "ERR_set_error")) {
    g_api.store(&found, std::memory_order_release);
    return &found;
  }
  return nullptr;
}

}  // namespace

KeptOpenSslErrors::KeptOpenSslErrors() noexcept {
  const Api* a = api();
  if (!a || a->peek() == 0) return;
  try {
    const char *file = nullptr, *func = nullptr, *data = nullptr;
    int line = 0, flags = 0;
    while (unsigned long code = a->get_all(&file, &line, &func, &data, &flags)) {
      Entry e{code, file ? file : "", line, func ? func : "", {}, false};
      if (data && (flags & ERR_TXT_STRING)) {
        e.data = data;
        e.has_data = true;
      }
      saved_.push_back(std::move(e));
    }
  } catch (...) {
    saved_.clear();  // no memory for them: the entries are lost, never another's
  }
}

KeptOpenSslErrors::~KeptOpenSslErrors() {
  const Api* a = g_api.load(std::memory_order_acquire);
  if (!a) return;
  if (a->peek() != 0) a->clear();  // what other green threads left
  for (const Entry& e : saved_) {
    a->new_entry();
    a->set_debug(e.file.c_str(), e.line, e.func.c_str());
    if (e.has_data) a->set_error(ERR_GET_LIB(e.code), ERR_GET_REASON(e.code), "%s", e.data.c_str());
    else a->set_error(ERR_GET_LIB(e.code), ERR_GET_REASON(e.code), nullptr);
  }
}

}  // namespace grove::compat::detail
