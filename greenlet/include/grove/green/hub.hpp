// The hub: one per OS thread, created on first use. It owns an EventLoop of the engine
// GROVE_LOOP names (else the build default), runs the green threads of its thread in turn,
// and polls the loop when they all wait. Its primitive is wait(fd, events, timeout).
#pragma once

#include <grove/green/detail/core.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace grove::green {

// Waits until fd is ready for `events` (read, write, or both), or `timeout` passes.
// Returns the ready subset, or Events::none on timeout. Only the calling green thread waits.
//  - fd should be non-blocking; readiness is level-triggered and may be spurious.
//  - Two green threads waiting on one fd in the same direction is a std::logic_error.
//  - If another green thread closes fd through forget_fd()/close() while this one waits,
//    this one wakes with std::system_error(EBADF).
//  - Regular files cannot be polled: std::invalid_argument (read them with run_in_thread).
Events wait(int fd, Events events, std::optional<Duration> timeout = std::nullopt);
inline bool wait_readable(int fd, std::optional<Duration> timeout = std::nullopt) {
  return any(wait(fd, Events::read, timeout));
}
inline bool wait_writable(int fd, std::optional<Duration> timeout = std::nullopt) {
  return any(wait(fd, Events::write, timeout));
}

// fd is about to be closed: every green thread waiting on it wakes with EBADF, the hub drops
// its watcher and the loop forgets the fd. Call it before closing an fd that green threads
// may wait on (compat routes libc's close() here).
void forget_fd(int fd);
// forget_fd(fd), then ::close(fd); returns what ::close returned.
int close(int fd);

// The calling thread's hub loop. Schedule callbacks on it freely; never run() it yourself.
EventLoop& hub_loop();
// The engine underneath the calling thread's hub.
std::string hub_engine();
// How this build switches between green threads (CMake's GROVE_GREEN_CONTEXT): "native",
// grove's x86-64 switch, under which the floating-point environment (rounding mode,
// exception masks, FTZ/DAZ) belongs to the OS thread and is shared by its green threads; or
// "boost", Boost.Context's fcontext, under which each green thread keeps its own.
std::string_view context_switch() noexcept;

// Process-wide sink for the hub's diagnostics (a green thread that died of an exception,
// a green thread that would not exit at thread exit). Default: none, and the diagnostics
// go to grove's diagnostic sink (grove/diagnostics.hpp, source "green"), which sees every
// layer: prefer grove::set_diagnostic_handler. Called on the hub's thread. Passing an empty
// function restores the default.
using DiagnosticSink = std::function<void(std::string_view message)>;
void set_diagnostic_sink(DiagnosticSink sink);

}  // namespace grove::green
