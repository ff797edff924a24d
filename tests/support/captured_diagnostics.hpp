// Collects what reaches grove's diagnostic sink for the scope, instead of stderr.
#pragma once

#include <grove/diagnostics.hpp>

#include <mutex>
#include <string>
#include <vector>

namespace grove::test {

struct Record {
  Severity level;
  std::string source;
  std::string message;
  std::string logger;
};

class CapturedReports {
 public:
  CapturedReports() {
    previous_ = set_diagnostic_handler([this](const Diagnostic& d) {
      std::lock_guard lock(mutex_);
      records_.push_back(
          {d.level, std::string(d.source), std::string(d.message), std::string(d.logger)});
    });
  }
  ~CapturedReports() { set_diagnostic_handler(std::move(previous_)); }
  CapturedReports(const CapturedReports&) = delete;
  CapturedReports& operator=(const CapturedReports&) = delete;

  std::vector<Record> records() const {
    std::lock_guard lock(mutex_);
    return records_;
  }
  // The first record from `source` whose message contains `text`, or nullptr-like empty.
  bool has(const std::string& source, const std::string& text, Record* found = nullptr) const {
    for (const Record& r : records())
      if (r.source == source && r.message.find(text) != std::string::npos) {
        if (found) *found = r;
        return true;
      }
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Record> records_;
  DiagnosticHandler previous_;
};

}  // namespace grove::test
