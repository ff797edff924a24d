// The notes app's views (see notes_app.hpp). Built into grove-notes (notes_main.cpp) and,
// for the tests, into web_demo.
#include "notes_app.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace web = grove::web;

namespace notes {
namespace {

struct Note {
  std::int64_t id = 0;
  std::string title;
  std::string body;
  std::string attachment;  // the uploaded file's safe name, or empty
};

// Notes per user, in memory. Views may run on several threads (the thread bridge), so
// it is locked.
struct Store {
  std::mutex mutex;
  std::map<std::string, std::vector<Note>> by_user;
  std::int64_t next_id = 1;
  std::string upload_folder;

  std::vector<Note> list(const std::string& user) {
    std::lock_guard lock(mutex);
    return by_user[user];
  }
  Note add(const std::string& user, Note note) {
    std::lock_guard lock(mutex);
    note.id = next_id++;
    by_user[user].push_back(note);
    return note;
  }
  std::optional<Note> find(const std::string& user, std::int64_t id) {
    std::lock_guard lock(mutex);
    for (const auto& n : by_user[user])
      if (n.id == id) return n;
    return std::nullopt;
  }
  bool remove(const std::string& user, std::int64_t id) {
    std::lock_guard lock(mutex);
    auto& notes = by_user[user];
    return std::erase_if(notes, [id](const Note& n) { return n.id == id; }) > 0;
  }
};

std::string random_token() {
  // Unpredictable enough for a CSRF token: std::random_device reads the kernel's RNG here.
  std::random_device rd;
  char buf[33];
  for (int i = 0; i < 4; ++i) std::snprintf(buf + i * 8, 9, "%08x", rd());
  return std::string(buf, 32);
}

// The session's CSRF token, made on first use (Flask-WTF's model: one token per session).
std::string csrf_token() {
  if (auto* t = web::session().find("csrf_token"); t && t->is_string()) return t->as_string();
  std::string token = random_token();
  web::session()["csrf_token"] = token;
  return token;
}

std::string current_user() { return web::session().get<std::string>("user", ""); }

web::Json note_json(const Note& n) {
  return web::Json{{"id", n.id},
                   {"title", n.title},
                   {"body", n.body},
                   {"attachment", n.attachment}};  // "" is false
}

std::string default_upload_folder() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/grove-notes-XXXXXX";
  if (!::mkdtemp(dir.data()))
    throw std::runtime_error("grove-notes: cannot make an upload folder under $TMPDIR");
  return dir;
}

}  // namespace

std::shared_ptr<void> make_notes_app(web::App& app) {
  auto store = std::make_shared<Store>();
  store->upload_folder = app.config.get<std::string>("UPLOAD_FOLDER", "");
  if (store->upload_folder.empty()) store->upload_folder = default_upload_folder();
  ::mkdir(store->upload_folder.c_str(), 0700);
  const std::string root = app.config.get<std::string>("NOTES_ROOT", GROVE_NOTES_ROOT);
  app.template_folder(root + "/templates");
  app.serve_static(root + "/static");
  if (!app.config.contains("USERS")) app.config["USERS"] = web::Json{{"demo", "demo"}};

  // Every template gets the user and the CSRF token for its forms.
  app.context_processor([] {
    return web::Json{{"user", current_user()}, {"csrf_token", csrf_token()}};
  });

  // Forms carry the session's token; a POST without it, or with another, is refused.
  app.before_request([](web::Request& r) -> std::optional<web::Response> {
    if (r.method() == "POST") {
      const auto* expected = web::session().find("csrf_token");
      auto sent = r.form().get("csrf_token");
      if (!expected || !expected->is_string() || !sent || *sent != expected->as_string())
        web::abort(400, "The CSRF token is missing or wrong: reload the form and send it again.");
    }
    // Everything but the login page and the static files needs a user.
    if (r.endpoint() != "login" && r.endpoint() != "static" && current_user().empty())
      return web::redirect(web::url_for("login", {{"next", r.path()}}));
    return std::nullopt;
  });

  app.route(
      "/login", {"GET", "POST"},
      [&app](web::Request& r) -> web::Response {
        if (r.method() == "POST") {
          const std::string name = r.form().get("name", ""),
                            password = r.form().get("password", "");
          const web::Json* users = app.config.find("USERS");
          const web::Json* known = users && users->is_object() ? users->find(name) : nullptr;
          if (!name.empty() && known && known->is_string() && known->as_string() == password) {
            web::session()["user"] = name;
            web::flash("Logged in as " + name + ".", "info");
            std::string next = r.args().get("next", "");
            bool local = next.starts_with("/") && !next.starts_with("//");  // no open redirect
            return web::redirect(local ? next : web::url_for("index"));
          }
          web::flash("Wrong name or password.", "error");
          return web::Response(
              web::render_template("login.html", {{"title", "Log in"}, {"name", name}}), 401);
        }
        return web::render_template("login.html", {{"title", "Log in"}});
      },
      "login");

  app.route(
      "/logout", {"POST"},
      [] {
        web::session().pop("user");
        web::flash("Logged out.", "info");
        return web::redirect(web::url_for("login"));
      },
      "logout");

  app.route(
      "/", {"GET"},
      [store] {
        web::Json notes = web::Json::array();
        for (const auto& n : store->list(current_user())) notes.push_back(note_json(n));
        return web::render_template("index.html", {{"title", "Your notes"}, {"notes", notes}});
      },
      "index");

  app.route(
      "/notes", {"POST"},
      [store](web::Request& r) {
        Note note;
        note.title = r.form().get("title", "");
        note.body = r.form().get("body", "");
        if (note.title.empty()) {
          web::flash("A note needs a title.", "error");
          return web::redirect(web::url_for("index"));
        }
        const web::FileStorage* file = r.files().get("attachment");
        if (file && !file->filename.empty()) {
          std::string safe = web::secure_filename(file->filename);
          if (safe.empty()) safe = "attachment";
          note.attachment = safe;
        }
        Note saved = store->add(current_user(), note);
        if (!saved.attachment.empty())
          file->save(store->upload_folder + "/" + std::to_string(saved.id) + "-" +
                     saved.attachment);
        web::flash("Saved \"" + saved.title + "\".", "info");
        return web::redirect(web::url_for("note", {{"id", saved.id}}));
      },
      "new_note");

  app.route(
      "/notes/<int:id>", {"GET"},
      [store](std::int64_t id) {
        auto note = store->find(current_user(), id);
        if (!note) web::abort(404);
        return web::render_template("note.html",
                                    {{"title", note->title}, {"note", note_json(*note)}});
      },
      "note");

  app.route(
      "/notes/<int:id>/attachment", {"GET"},
      [store](std::int64_t id) {
        auto note = store->find(current_user(), id);
        if (!note || note->attachment.empty()) web::abort(404);
        return web::send_from_directory(store->upload_folder,
                                        std::to_string(id) + "-" + note->attachment,
                                        {.as_attachment = true, .download_name = note->attachment});
      },
      "attachment");

  app.route(
      "/notes/<int:id>/delete", {"POST"},
      [store](std::int64_t id) {
        if (!store->remove(current_user(), id)) web::abort(404);
        web::flash("Deleted.", "info");
        return web::redirect(web::url_for("index"));
      },
      "delete_note");

  return store;
}

}  // namespace notes
