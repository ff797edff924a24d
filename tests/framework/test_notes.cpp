// The notes app (examples/notes): the whole flow through the test client with a cookie jar
// (login with a session, CSRF-protected forms, an upload, the static CSS, templates,
// url_for, flashed messages), and the same flow over real HTTP driven by python3-requests
// following cookies and redirects (notes_client.py).
#include "http_support.hpp"
#include "notes/notes_app.hpp"
#include "python.hpp"

#include <regex>

using namespace grove::web;
using namespace grove::web::test;

namespace {

struct NotesApp {
  App app;
  std::shared_ptr<void> state;
  NotesApp() {
    app.config["SECRET_KEY"] = "notes tests";
    app.config["USERS"] = Json{{"demo", "demo"}, {"ann", "s3cret"}};
    state = notes::make_notes_app(app);
  }
};

std::string csrf_of(const std::string& html) {
  std::smatch m;
  if (!std::regex_search(html, m, std::regex("name=\"csrf_token\" value=\"([0-9a-f]{32})\"")))
    return {};
  return m[1];
}

RequestOptions form(MultiDict fields) {
  RequestOptions o;
  o.form = std::move(fields);
  return o;
}

// A multipart/form-data body with text fields and one file, as a browser's form sends it.
RequestOptions multipart(const std::vector<std::pair<std::string, std::string>>& fields,
                         const std::string& filename, const std::string& content) {
  const std::string b = "notes-test-boundary";
  std::string body;
  for (auto& [k, v] : fields)
    body +=
        "--" + b + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n";
  body += "--" + b + "\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"" +
          filename + "\"\r\nContent-Type: text/plain\r\n\r\n" + content + "\r\n--" + b + "--\r\n";
  RequestOptions o;
  o.data = body;
  o.content_type = "multipart/form-data; boundary=" + b;
  return o;
}

}  // namespace

TEST_CASE("web: notes: log in, write a note with an attachment, read it, log out (test client)",
          "[notes]") {
  NotesApp n;
  Browser b(n.app);

  auto anonymous = b.get("/");
  CHECK(anonymous.status == 302);
  CHECK(anonymous.headers.get("Location", "") == "/login?next=%2F");
  auto login_page = b.get("/login?next=%2F");
  CHECK(login_page.status == 200);
  CHECK(login_page.body.find("<link rel=\"stylesheet\" href=\"/static/notes.css\">") !=
        std::string::npos);
  const std::string csrf = csrf_of(login_page.body);
  REQUIRE(csrf.size() == 32);

  // CSRF: a missing or wrong token is 400, and nothing happens.
  CHECK(b.open("POST", "/login", form({{"name", "demo"}, {"password", "demo"}})).status == 400);
  CHECK(b.open("POST", "/login",
               form({{"csrf_token", std::string(32, '0')}, {"name", "demo"}, {"password", "demo"}}))
            .status == 400);
  CHECK(b.get("/").status == 302);  // still not logged in
  auto wrong =
      b.open("POST", "/login", form({{"csrf_token", csrf}, {"name", "demo"}, {"password", "x"}}));
  CHECK(wrong.status == 401);
  CHECK(wrong.body.find("Wrong name or password.") != std::string::npos);

  auto login = b.open("POST", "/login?next=%2F",
                      form({{"csrf_token", csrf}, {"name", "demo"}, {"password", "demo"}}));
  CHECK(login.status == 302);
  CHECK(login.headers.get("Location", "") == "/");
  auto index = b.get("/");
  CHECK(index.status == 200);
  CHECK(index.body.find("<p class=\"flash info\">Logged in as demo.</p>") != std::string::npos);
  CHECK(index.body.find("No notes yet.") != std::string::npos);
  CHECK(index.body.find("action=\"/notes\" enctype=\"multipart/form-data\"") != std::string::npos);
  CHECK(b.get("/").body.find("Logged in as") == std::string::npos);  // a flash shows once

  auto saved = b.open("POST", "/notes",
                      multipart({{"csrf_token", csrf}, {"title", "Plan <A>"}, {"body", "x & y"}},
                                "../../etc/plan.txt", "step 1\n"));
  CHECK(saved.status == 302);
  CHECK(saved.headers.get("Location", "") == "/notes/1");
  auto note = b.get("/notes/1");
  CHECK(note.body.find("<h1>Plan &lt;A&gt;</h1>") != std::string::npos);
  CHECK(note.body.find("<pre class=\"body\">x &amp; y</pre>") != std::string::npos);
  CHECK(note.body.find("Saved &quot;Plan &lt;A&gt;&quot;.") != std::string::npos);
  CHECK(note.body.find("<a href=\"/notes/1/attachment\">etc_plan.txt</a>") != std::string::npos);
  auto file = b.get("/notes/1/attachment");
  CHECK(file.status == 200);
  CHECK(file.body == "step 1\n");
  CHECK(file.headers.get("Content-Disposition", "") == "attachment; filename=\"etc_plan.txt\"");
  CHECK(b.get("/static/notes.css").headers.get("Content-Type", "") == "text/css; charset=utf-8");

  // Another user sees none of it.
  Browser other(n.app);
  const std::string other_csrf = csrf_of(other.get("/login").body);
  CHECK(other
            .open("POST", "/login",
                  form({{"csrf_token", other_csrf}, {"name", "ann"}, {"password", "s3cret"}}))
            .status == 302);
  CHECK(other.get("/notes/1").status == 404);
  CHECK(other.open("POST", "/notes/1/delete", form({{"csrf_token", csrf}})).status ==
        400);  // demo's token

  CHECK(b.open("POST", "/notes/1/delete", form({{"csrf_token", csrf}})).status == 302);
  CHECK(b.get("/notes/1").status == 404);
  auto logout = b.open("POST", "/logout", form({{"csrf_token", csrf}}));
  CHECK(logout.headers.get("Location", "") == "/login");
  CHECK(b.get("/notes/1").headers.get("Location", "") == "/login?next=%2Fnotes%2F1");
}

TEST_CASE(
    "web: notes: the same flow over real HTTP with python requests, following cookies and "
    "redirects",
    "[notes][http]") {
  NotesApp n;
  ServedApp served(n.app);
  int status = -1;
  std::string out =
      output_of(grove::test::python3() + " " GROVE_NOTES_CLIENT_PY " " + served.base(), &status);
  INFO(out);
  CHECK(status == 0);
  Json seen = Json::parse(out);
  CHECK(seen["anonymous_status"].as_int() == 302);
  CHECK(seen["anonymous_location"].as_string() == "/login?next=%2F");
  CHECK(seen["login_page_url"].as_string() == served.url("/login?next=%2F"));
  CHECK(seen["login_page_has_form"].as_bool());
  CHECK(seen["token_found"].as_bool());
  CHECK(seen["wrong_token_status"].as_int() == 400);
  CHECK(seen["wrong_password_status"].as_int() == 401);
  CHECK(seen["wrong_password_flash"].as_bool());
  CHECK(seen["login_history"].dump() == "[302]");
  CHECK(seen["after_login_url"].as_string() == served.url("/"));
  CHECK(seen["after_login_flash"].as_bool());
  CHECK(seen["no_notes"].as_bool());
  CHECK(seen["css"].dump() == R"(["/static/notes.css",200,"text/css; charset=utf-8",true])");
  CHECK(seen["note_url"].as_string() == served.url("/notes/1"));
  CHECK(seen["note_page"].dump() == "[true,true,true]");
  CHECK(seen["attachment_link"].dump() == R"(["/notes/1/attachment","list_.txt"])");
  CHECK(seen["attachment"].dump() ==
        R"([200,"milk\neggs\n","attachment; filename=\"list_.txt\""])");
  CHECK(seen["forged_status"].as_int() == 400);
  CHECK(seen["listed"].dump() == R"([["/notes/1","Groceries &lt;3"]])");
  CHECK(seen["logout_url"].as_string() == served.url("/login"));
  CHECK(seen["logout_flash"].as_bool());
  CHECK(seen["after_logout"].dump() == R"([302,"/login?next=%2Fnotes%2F1"])");
}
