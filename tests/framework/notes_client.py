"""Drives grove-notes over real HTTP with python3-requests, as a browser would: one
requests.Session keeps the cookie, redirects are followed. Prints one JSON object of what
it saw; the C++ test (test_notes.cpp) checks it.

Usage: notes_client.py BASE_URL
"""
import json
import re
import sys

import requests

base = sys.argv[1]
s = requests.Session()
seen = {}


def token(html):
    m = re.search(r'name="csrf_token" value="([0-9a-f]{32})"', html)
    return m.group(1) if m else None


# Not logged in: / redirects to the login page.
r = s.get(base + "/", allow_redirects=False, timeout=10)
seen["anonymous_status"] = r.status_code
seen["anonymous_location"] = r.headers.get("Location")
r = s.get(base + "/", timeout=10)  # followed
seen["login_page_url"] = r.url
seen["login_page_has_form"] = 'action="/login?next=%2F"' in r.text
csrf = token(r.text)
seen["token_found"] = csrf is not None

# A wrong token is refused, a right one with a wrong password is 401.
r = s.post(base + "/login", data={"csrf_token": "0" * 32, "name": "demo", "password": "demo"}, timeout=10)
seen["wrong_token_status"] = r.status_code
r = s.post(base + "/login", data={"csrf_token": csrf, "name": "demo", "password": "nope"}, timeout=10)
seen["wrong_password_status"] = r.status_code
seen["wrong_password_flash"] = "Wrong name or password." in r.text

# Log in: redirected back to / with the flash.
r = s.post(base + "/login?next=%2F", data={"csrf_token": csrf, "name": "demo", "password": "demo"}, timeout=10)
seen["login_history"] = [h.status_code for h in r.history]
seen["after_login_url"] = r.url
seen["after_login_flash"] = "Logged in as demo." in r.text
seen["no_notes"] = "No notes yet." in r.text
css = re.search(r'<link rel="stylesheet" href="([^"]+)"', r.text).group(1)
c = s.get(base + css, timeout=10)
seen["css"] = [css, c.status_code, c.headers.get("Content-Type"), "font-family" in c.text]

# A note with an attachment (multipart/form-data).
r = s.post(base + "/notes", data={"csrf_token": csrf, "title": "Groceries <3", "body": "milk & eggs"},
           files={"attachment": ("list é.txt", b"milk\neggs\n", "text/plain")}, timeout=10)
seen["note_url"] = r.url
seen["note_page"] = ["<h1>Groceries &lt;3</h1>" in r.text, "milk &amp; eggs" in r.text,
                     'Saved &quot;Groceries &lt;3&quot;.' in r.text]
link = re.search(r'Attachment: <a href="([^"]+)">([^<]+)</a>', r.text)
seen["attachment_link"] = [link.group(1), link.group(2)] if link else None
if link:
    a = s.get(base + link.group(1), timeout=10)
    seen["attachment"] = [a.status_code, a.content.decode(), a.headers.get("Content-Disposition")]

# A note without a token: 400, and nothing saved.
r = s.post(base + "/notes", data={"title": "forged"}, timeout=10)
seen["forged_status"] = r.status_code
r = s.get(base + "/", timeout=10)
seen["listed"] = re.findall(r'<li><a href="(/notes/\d+)">([^<]+)</a>', r.text)

# Log out: the next page asks for the login again.
r = s.post(base + "/logout", data={"csrf_token": csrf}, timeout=10)
seen["logout_url"] = r.url
seen["logout_flash"] = "Logged out." in r.text
r = s.get(base + "/notes/1", allow_redirects=False, timeout=10)
seen["after_logout"] = [r.status_code, r.headers.get("Location")]
print(json.dumps(seen))
