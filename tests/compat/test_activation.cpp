// Activation, warnings and the self-check. What needs a fresh, unpatched process runs in
// compat_probe (see probe.cpp); this process never patches.
#include "compat_support.hpp"

#include <stdexcept>

using namespace grove::test;

namespace {
std::string probe(const std::string& args, const std::string& env = "") {
  return "env -u GROVE_PATCH " + env + " " + COMPAT_PROBE + " " + args;
}
}  // namespace

TEST_CASE("patch names parse and print", "[compat][activation]") {
  CHECK(compat::to_string(compat::Patch::none) == "none");
  CHECK(compat::to_string(compat::Patch::all) == "all");
  CHECK(compat::to_string(compat::Patch::time | compat::Patch::dns) == "time,dns");
  CHECK(compat::parse_patch("all") == compat::Patch::all);
  CHECK(compat::parse_patch("socket, TIME") == (compat::Patch::socket | compat::Patch::time));
  CHECK(compat::parse_patch("select dns,os") ==
        (compat::Patch::select | compat::Patch::dns | compat::Patch::os));
  CHECK(compat::parse_patch("") == compat::Patch::none);
  CHECK(compat::parse_patch("none") == compat::Patch::none);
  try {
    compat::parse_patch("socket,thread");
    FAIL("parse_patch accepted 'thread'");
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    CHECK(what.find("unknown patch name 'thread'") != std::string::npos);
    CHECK(what.find("valid names: all, none, time, socket, os, select, dns") != std::string::npos);
  }
}

TEST_CASE("an unpatched process reports nothing patched", "[compat][activation]") {
  CHECK_FALSE(compat::is_patched(compat::Patch::socket));
  CHECK(compat::patched() == compat::Patch::none);
  CHECK(compat::is_patched(compat::Patch::none));
}

TEST_CASE("the self-check passes when linked through grove::compat", "[compat][activation]") {
  auto check = compat::self_check();
  INFO(check.fix);
  CHECK(check.ok);
  CHECK(check.not_interposed.empty());
}

TEST_CASE("warnings are emitted once, in order, to a replaceable sink", "[compat][activation]") {
  std::vector<compat::Warning> seen;
  auto previous = compat::set_warning_sink([&](const compat::Warning& w) {
    seen.push_back(w);
    // A sink that warns again is queued behind, not re-entered.
    if (w.id == "test.first") compat::warn("test.nested", "nested");
  });
  CHECK(compat::warn("test.first", "first text; do this instead"));
  CHECK_FALSE(compat::warn("test.first", "another text"));
  CHECK(compat::warn("test.second", "second"));
  compat::set_warning_sink(previous);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].id == "test.first");
  CHECK(seen[0].message == "first text; do this instead");
  CHECK(seen[1].id == "test.nested");
  CHECK(seen[2].id == "test.second");
  auto all = compat::warnings();
  bool found = false;
  for (auto& w : all) found |= (w.id == "test.first" && w.message == "first text; do this instead");
  CHECK(found);
}

TEST_CASE("GROVE_PATCH patches at start-up", "[compat][activation]") {
  auto out = run_command(probe("env", "GROVE_PATCH=all"));
  INFO(out.text);
  CHECK(out.status == 0);
  CHECK(out.has("patched=all"));
  CHECK(out.has("self_check=ok"));
  CHECK_FALSE(out.has("warning="));

  auto some = run_command(probe("env", "GROVE_PATCH=socket,time"));
  INFO(some.text);
  CHECK(some.has("patched=time,socket"));
}

TEST_CASE("a bad GROVE_PATCH is named with the valid values", "[compat][activation]") {
  auto out = run_command(probe("env", "GROVE_PATCH=sockets"));
  INFO(out.text);
  CHECK(out.status == 0);
  CHECK(out.has("patched=none"));
  CHECK(
      out.has("grove: warning: GROVE_PATCH='sockets' was ignored: grove::compat: unknown "
              "patch name 'sockets'; valid names: all, none, time, socket, os, select, dns. "
              "Set GROVE_PATCH=all, or a list such as GROVE_PATCH=socket,time."));
  CHECK(out.has("warning=compat.bad-grove-patch"));
}

TEST_CASE("patching again with different arguments warns, and the union stays",
          "[compat][activation]") {
  auto out = run_command(probe("twice"));
  INFO(out.text);
  CHECK(out.has("patched=time,socket"));
  CHECK(
      out.has("grove: warning: grove::compat::patch() was called again with different "
              "arguments (first socket, now time,socket). Patching is a union and is never "
              "undone: now patched: time,socket. Patch once, at start-up, with everything "
              "the program needs (usually grove::compat::patch_all())."));
  // Patching twice with the same arguments is silent: one warning only.
  auto first = out.text.find("called again");
  CHECK(out.text.find("called again", first + 1) == std::string::npos);
}

TEST_CASE("patching after other threads exist warns", "[compat][activation]") {
  auto out = run_command(probe("after-threads"));
  INFO(out.text);
  CHECK(out.has("patched=all"));
  CHECK(out.has("warning=compat.patch-after-threads"));
  CHECK(
      out.has("grove: warning: grove::compat::patch(all) ran while 1 other OS thread(s) "
              "already existed"));
  CHECK(
      out.has("Call grove::compat::patch_all() first thing in main(), or set "
              "GROVE_PATCH=all in the environment, before creating threads or starting "
              "the server."));
}

TEST_CASE("patching from another thread warns", "[compat][activation]") {
  auto out = run_command(probe("off-main"));
  INFO(out.text);
  CHECK(out.has("warning=compat.patch-off-main-thread"));
  CHECK(
      out.has("grove: warning: grove::compat::patch(all) was called from a thread other "
              "than the main thread."));
}

TEST_CASE("patching first thing in main is silent", "[compat][activation]") {
  auto out = run_command(probe("patch"));
  INFO(out.text);
  CHECK(out.has("patched=all"));
  CHECK(out.has("self_check=ok"));
  CHECK_FALSE(out.has("warning"));
}

TEST_CASE("the self-check names a link that defeats interposition", "[compat][activation]") {
  // compat_probe_hidden is linked with -Wl,--exclude-libs,ALL: grove's definitions exist
  // but the executable does not export them, so libc wins every lookup.
  auto out = run_command("env -u GROVE_PATCH " COMPAT_PROBE_HIDDEN " patch");
  INFO(out.text);
  CHECK(out.has("self_check=failed"));
  CHECK(out.has("not_interposed=read"));
  CHECK(out.has("not_interposed=getaddrinfo"));
  CHECK(out.has("warning=compat.not-interposed"));
  CHECK(
      out.has("grove: warning: grove::compat is patched, but this process does not resolve "
              "read, write,"));
  CHECK(
      out.has("to grove's definitions, so those calls go straight to libc and block the "
              "whole OS thread. grove_compat must be linked into the executable itself"));
  CHECK(out.has("-Wl,--undefined=grove_compat_interposers"));
  CHECK(
      out.has("Do not link the executable with -static, do not hide the archive's symbols "
              "(-Wl,--exclude-libs"));
}

TEST_CASE("inherited fds never become non-blocking", "[compat][activation]") {
  auto out = run_command(probe("inherited"));
  INFO(out.text);
  CHECK(out.has("nonblock_while_waiting=0"));
  CHECK(out.has("inherited_read=1"));
  CHECK(out.has("nonblock_after=0"));
  CHECK(out.has("warning=compat.connect-inherited-fd"));
  CHECK(
      out.has("grove: warning: connect() was called in a green thread on a blocking socket "
              "the process already had when grove::compat was patched."));
}

TEST_CASE("socket timeouts set before patching are honoured", "[compat][activation]") {
  auto out = run_command(probe("timeout-before-patch"));
  INFO(out.text);
  CHECK(out.has("timeout_read=-1 errno=EAGAIN waited_enough=1"));
}

TEST_CASE("a blocking call the patch cannot reach is reported with the fix",
          "[compat][activation]") {
  auto out = run_command(probe("blocking"));
  INFO(out.text);
  CHECK(out.has("warning=compat.blocking-call:busy-worker"));
  CHECK(
      out.has("grove: warning: green thread 'busy-worker' held its hub for more than 50 ms "
              "without switching although grove::compat is patched"));
  CHECK(out.has("Move that work into grove::green::run_in_thread(...)"));
}
