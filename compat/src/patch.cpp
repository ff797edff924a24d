// Activation: patch(), the checks made when patching, GROVE_PATCH, the self-check.
#include "real.hpp"
#include "state.hpp"

#include <grove/green/greenlet.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace grove::compat {

namespace detail {

std::atomic<unsigned> g_patched{0};

bool in_green() noexcept { return green::in_green_thread(); }

namespace {

struct Name {
  const char* name;
  Patch what;
};
constexpr Name kNames[] = {
    {"time", Patch::time},     {"socket", Patch::socket}, {"os", Patch::os},
    {"select", Patch::select}, {"dns", Patch::dns},
};

// Other OS threads of this process, by name (/proc/self/task/<tid>/comm).
std::vector<std::string> other_threads() {
  std::vector<std::string> names;
  long self = ::syscall(SYS_gettid);
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      if (std::atol(e->d_name) == self) continue;
      std::string name = e->d_name;
      std::string path = std::string("/proc/self/task/") + e->d_name + "/comm";
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        char buf[64];
        ssize_t n = real::read(fd, buf, sizeof buf - 1);
        real::close(fd);
        if (n > 0) {
          while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0')) --n;
          name = std::string(buf, std::size_t(n));
        }
      }
      names.push_back(name);
    }
    ::closedir(d);
  }
  return names;
}

std::mutex g_patch_mutex;
bool g_patched_once = false;
unsigned g_first_request = 0;

}  // namespace
}  // namespace detail

std::string to_string(Patch what) {
  unsigned w = unsigned(what) & unsigned(Patch::all);
  if (w == 0) return "none";
  if (w == unsigned(Patch::all)) return "all";
  std::string out;
  for (const auto& n : detail::kNames) {
    if (w & unsigned(n.what)) {
      if (!out.empty()) out += ",";
      out += n.name;
    }
  }
  return out;
}

Patch parse_patch(std::string_view names) {
  Patch out = Patch::none;
  std::size_t i = 0;
  auto valid = [] {
    std::string v = "all, none";
    for (const auto& n : detail::kNames) v += std::string(", ") + n.name;
    return v;
  };
  while (i < names.size()) {
    while (i < names.size() && (names[i] == ',' || std::isspace((unsigned char)names[i]))) ++i;
    std::size_t j = i;
    while (j < names.size() && names[j] != ',' && !std::isspace((unsigned char)names[j])) ++j;
    if (j == i) break;
    std::string word(names.substr(i, j - i));
    std::transform(word.begin(), word.end(), word.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    i = j;
    if (word == "all" || word == "1" || word == "true" || word == "yes") {
      out |= Patch::all;
      continue;
    }
    if (word == "none" || word == "0" || word == "false" || word == "no") continue;
    bool found = false;
    for (const auto& n : detail::kNames) {
      if (word == n.name) {
        out |= n.what;
        found = true;
      }
    }
    if (!found)
      throw std::invalid_argument("grove::compat: unknown patch name '" + word +
                                  "'; valid names: " + valid());
  }
  return out;
}

bool is_patched(Patch what) noexcept {
  unsigned w = unsigned(what) & unsigned(Patch::all);
  return (detail::g_patched.load(std::memory_order_relaxed) & w) == w;
}

Patch patched() noexcept { return Patch(detail::g_patched.load(std::memory_order_relaxed)); }

SelfCheck self_check() {
  SelfCheck out;
  int saved = errno;
  for (std::size_t i = 0; i < detail::real::interposed_count; ++i) {
    const auto& e = detail::real::interposed[i];
    void* resolved = ::dlsym(RTLD_DEFAULT, e.name);
    if (resolved != e.ours) out.not_interposed.push_back(e.name);
  }
  (void)::dlerror();
  errno = saved;
  if (!out.not_interposed.empty()) {
    out.ok = false;
    out.fix =
        "grove_compat must be linked into the executable itself, as a static library whose "
        "definitions the executable exports: with CMake, target_link_libraries(<app> "
        "PRIVATE grove::compat), which adds -Wl,--undefined=grove_compat_interposers; by "
        "hand, link libgrove_compat.a with -Wl,--undefined=grove_compat_interposers (or "
        "-Wl,--whole-archive). Do not link the executable with -static, do not hide the "
        "archive's symbols (-Wl,--exclude-libs, a version script or -fvisibility=hidden on "
        "grove's sources), and check that no LD_PRELOAD library defines the same names.";
  }
  return out;
}

void patch(Patch what) {
  unsigned want = unsigned(what) & unsigned(Patch::all);
  std::vector<Warning> pending;
  {
    std::lock_guard lock(detail::g_patch_mutex);
    if (!detail::g_patched_once) {
      detail::g_patched_once = true;
      detail::g_first_request = want;

      std::vector<std::string> threads = detail::other_threads();
      if (!threads.empty()) {
        std::string list;
        for (std::size_t i = 0; i < threads.size() && i < 8; ++i)
          list += (i ? ", " : "") + std::string("'") + threads[i] + "'";
        if (threads.size() > 8) list += ", ...";
        pending.push_back(
            {"compat.patch-after-threads",
             "grove::compat::patch(" + to_string(Patch(want)) + ") ran while " +
                 std::to_string(threads.size()) + " other OS thread(s) already existed (" + list +
                 "). Patching only changes calls made from green threads: a thread that is "
                 "already blocked inside libc stays blocked, and code started before the "
                 "patch may have cached blocking assumptions. Call "
                 "grove::compat::patch_all() first thing in main(), or set GROVE_PATCH=all "
                 "in the environment, before creating threads or starting the server."});
      }
      if (::getpid() != ::syscall(SYS_gettid)) {
        pending.push_back(
            {"compat.patch-off-main-thread",
             "grove::compat::patch(" + to_string(Patch(want)) +
                 ") was called from a thread other than the main thread. Patching is "
                 "process-wide and must happen before other threads run: call "
                 "grove::compat::patch_all() first thing in main(), or set GROVE_PATCH=all "
                 "in the environment."});
      }
      detail::mark_inherited_fds();
      if (want != 0) detail::install_blocking_sink();
      SelfCheck check = self_check();
      if (!check.ok) {
        std::string names;
        for (std::size_t i = 0; i < check.not_interposed.size(); ++i)
          names += (i ? ", " : "") + check.not_interposed[i];
        pending.push_back({"compat.not-interposed",
                           "grove::compat is patched, but this process does not resolve " + names +
                               " to grove's definitions, so those calls go straight to libc "
                               "and block the whole OS thread. " +
                               check.fix});
      }
    } else if (want != detail::g_first_request) {
      pending.push_back(
          {"compat.patch-different-arguments",
           "grove::compat::patch() was called again with different arguments (first " +
               to_string(Patch(detail::g_first_request)) + ", now " + to_string(Patch(want)) +
               "). Patching is a union and is never undone: now patched: " +
               to_string(Patch(detail::g_patched.load() | want)) +
               ". Patch once, at start-up, with everything the program needs (usually "
               "grove::compat::patch_all())."});
      if (detail::g_patched.load() == 0 && want != 0) detail::install_blocking_sink();
    }
    detail::g_patched.fetch_or(want, std::memory_order_relaxed);
  }
  for (auto& w : pending) warn(std::move(w.id), std::move(w.message));
}

void patch_all() { patch(Patch::all); }

}  // namespace grove::compat
