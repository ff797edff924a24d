// A template folder tree on disk for the template tests: the app's folder and two
// blueprints' folders in a temporary directory, removed afterwards.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace grove::web::test {

class TemplateTree {
 public:
  TemplateTree() {
    char tmpl[] = "/tmp/grove-templates-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
    for (const char* dir : {"/app", "/app/admin", "/admin", "/admin/admin", "/shop"})
      ::mkdir((root_ + dir).c_str(), 0755);
  }
  ~TemplateTree() { std::system(("rm -rf '" + root_ + "'").c_str()); }
  TemplateTree(const TemplateTree&) = delete;

  std::string app() const { return root_ + "/app"; }
  std::string admin() const { return root_ + "/admin"; }
  std::string shop() const { return root_ + "/shop"; }
  // Writes `text` to `rel` under the root ("app/index.html").
  void write(const std::string& rel, const std::string& text) const {
    std::ofstream(root_ + "/" + rel, std::ios::binary | std::ios::trunc) << text;
  }

 private:
  std::string root_;
};

}  // namespace grove::web::test
