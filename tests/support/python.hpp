// The Python the tests drive real clients with (python3-websockets, http.client): Debian's
// /usr/bin/python3, where scripts/install-deps.sh puts the modules, even when another
// python3 (pyenv, a venv) comes first on PATH; else whatever python3 is there.
#pragma once

#include <unistd.h>

#include <string>

namespace grove::test {

inline std::string python3() {
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

}  // namespace grove::test
