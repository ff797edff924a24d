// compat's process-wide state: what is patched, and what grove knows about each fd.
#pragma once

#include <grove/compat.hpp>

#include <atomic>
#include <cstdint>

namespace grove::compat::detail {

// The patched set. Relaxed loads suffice: patching only ever adds bits, and a call that
// sees a stale (smaller) set behaves exactly as libc, which is always correct.
extern std::atomic<unsigned> g_patched;

inline bool patched_any(unsigned what) noexcept {
  return (g_patched.load(std::memory_order_relaxed) & what) != 0;
}

// Whether the caller is a spawned green thread (not the main context, not the hub).
bool in_green() noexcept;

// The cooperative test every interposer makes: patched for this call, and in a green thread.
inline bool cooperative(unsigned what) noexcept { return patched_any(what) && in_green(); }

constexpr unsigned kIo = unsigned(Patch::socket) | unsigned(Patch::os);

// --- the fd table ------------------------------------------------------------------------
// What an fd is, learned lazily (fstat) or when grove saw it created.
enum class Kind : std::uint32_t {
  unknown = 0,
  stream = 1,       // SOCK_STREAM socket: MSG_DONTWAIT, blocking writes loop until done
  socket = 2,       // datagram / seqpacket socket: MSG_DONTWAIT, one call is one message
  pollable = 3,     // pipe, FIFO, eventfd, non-tty character device: RWF_NOWAIT
  passthrough = 4,  // regular file, directory, block device, tty: always libc
};

// One entry per fd, lock-free. Every field is written by the thread that creates, changes
// or closes the fd, and read by any.
struct FdState {
  static constexpr std::uint32_t kKindMask = 7;
  static constexpr std::uint32_t kInherited = 1u << 3;        // open when the process was patched
  static constexpr std::uint32_t kNbKnown = 1u << 4;          // kUserNb below is up to date
  static constexpr std::uint32_t kUserNb = 1u << 5;           // the user set O_NONBLOCK
  static constexpr std::uint32_t kNoNowait = 1u << 6;         // RWF_NOWAIT unsupported: poll first
  static constexpr std::uint32_t kTimeouts = 1u << 7;         // SO_RCVTIMEO / SO_SNDTIMEO known
  static constexpr std::uint32_t kGroveNb = 1u << 8;          // grove set O_NONBLOCK (connect only)
  static constexpr std::uint32_t kWroteLast = 1u << 9;        // see read_follows_write (coop.cpp)
  static constexpr std::uint32_t kReadWaitsFirst = 1u << 10;  // a read after a write waits first

  std::atomic<std::uint32_t> bits{0};
  // Bumped whenever the fd number is closed or replaced (close, dup2/dup3 over it): a hub
  // that last waited on an older epoch may hold a watcher for the previous file.
  std::atomic<std::uint32_t> epoch{0};
  std::atomic<std::int64_t> rcvtimeo_ns{0};  // 0: none
  std::atomic<std::int64_t> sndtimeo_ns{0};
  std::atomic<std::uint32_t> waited_first{0};  // reads that waited first (see probe_now)

  Kind kind() const noexcept { return Kind(bits.load(std::memory_order_relaxed) & kKindMask); }
  bool has(std::uint32_t bit) const noexcept {
    return (bits.load(std::memory_order_relaxed) & bit) != 0;
  }
  void set(std::uint32_t bit) noexcept { bits.fetch_or(bit, std::memory_order_relaxed); }
  void clear(std::uint32_t bit) noexcept { bits.fetch_and(~bit, std::memory_order_relaxed); }
  void set_kind(Kind k) noexcept;
  void set_user_nonblock(bool nb) noexcept;
  // A new fd grove saw created: forgets everything about the previous fd of that number.
  void reset(std::uint32_t new_bits) noexcept;
  // The state of `other` for an fd that now shares its open file description (dup).
  void copy_from(const FdState& other) noexcept;
};

// Entries for fds below this are kept; larger fds are classified on every call.
constexpr int kMaxTrackedFd = 1 << 22;

// The entry for fd (allocated on first use), or nullptr for fds out of range.
FdState* fd_state(int fd) noexcept;
// The entry, classified (fstat, SO_TYPE, isatty, SO_RCVTIMEO/SO_SNDTIMEO) if still unknown.
// Returns nullptr only for fds out of range; `scratch` then holds the classification.
FdState* classified(int fd, FdState& scratch) noexcept;
// Classifies fd into `s` (kind, timeouts), keeping the other bits.
void classify(int fd, FdState& s) noexcept;
// The user's O_NONBLOCK, from the cache or (once) from F_GETFL.
bool user_nonblock(int fd, FdState& s) noexcept;
// Marks every fd open now as inherited (called when the process is first patched).
void mark_inherited_fds() noexcept;

// --- warnings ------------------------------------------------------------------------------
// The blocking detector's reports become compat warnings once anything is patched.
void install_blocking_sink();

}  // namespace grove::compat::detail
