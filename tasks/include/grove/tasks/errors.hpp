// Exceptions of grove::tasks.
#pragma once

#include <stdexcept>
#include <string>

namespace grove::tasks {

// Every grove::tasks failure that is not API misuse (misuse throws std::invalid_argument
// or std::logic_error saying what to do).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// enqueue() of a name no tasks.task() registered in this process.
class UnknownTask : public Error {
 public:
  using Error::Error;
};

// wait() saw no result within its timeout. The task may still run: wait again.
class WaitTimeout : public Error {
 public:
  using Error::Error;
};

}  // namespace grove::tasks
