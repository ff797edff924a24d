# Opens grove-demo's /chat in two pages of headless Chromium, sends a message from the
# first and waits until the second shows it, through the DevTools protocol (spoken with
# python3-websockets). Prints what each page shows; exits non-zero on any failure.
# Usage: chat_browser.py CHROMIUM BASE_URL   (BASE_URL: http://127.0.0.1:PORT)
import asyncio, json, re, shutil, subprocess, sys, tempfile, time
import websockets

chromium, base = sys.argv[1], sys.argv[2]
MESSAGE = "hello from page 1"


def start_browser(profile):
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    for line in proc.stderr:
        m = re.search(r"DevTools listening on (ws://\S+)", line)
        if m:
            return proc, m.group(1)
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit("chromium did not start its DevTools endpoint")


class DevTools:
    def __init__(self, ws):
        self.ws, self.next_id, self.pending = ws, 0, {}

    async def read(self):
        async for raw in self.ws:
            msg = json.loads(raw)
            fut = self.pending.pop(msg.get("id"), None)
            if fut and not fut.done():
                if "error" in msg:
                    fut.set_exception(RuntimeError(str(msg["error"])))
                else:
                    fut.set_result(msg.get("result", {}))

    async def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send(json.dumps(msg))
        return await asyncio.wait_for(fut, 30)

    async def open_page(self, url):
        target = await self.call("Target.createTarget", {"url": url})
        attached = await self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        return attached["sessionId"]

    async def evaluate(self, session, expression):
        r = await self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        return r.get("result", {}).get("value")

    async def wait_until(self, session, expression, what):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if await self.evaluate(session, expression):
                return
            await asyncio.sleep(0.1)
        raise SystemExit("timed out waiting until " + what)


MESSAGES = "JSON.stringify([...document.querySelectorAll('#messages li')].map(li => li.textContent))"


async def main():
    profile = tempfile.mkdtemp(prefix="grove-chromium-")
    proc, endpoint = start_browser(profile)
    try:
        async with websockets.connect(endpoint, max_size=None) as ws:
            tools = DevTools(ws)
            reader = asyncio.create_task(tools.read())
            pages = [await tools.open_page(base + "/chat") for _ in range(2)]
            for p in pages:
                await tools.wait_until(p, "document.getElementById('state') && "
                                          "document.getElementById('state').textContent === 'connected'",
                                       "a page says connected")
            await tools.evaluate(pages[0], "document.getElementById('text').value = %s; "
                                           "document.getElementById('form').requestSubmit(); true"
                                 % json.dumps(MESSAGE))
            for p in pages:
                await tools.wait_until(p, MESSAGES + ".includes(%s)" % json.dumps(MESSAGE),
                                       "a page shows the message")
            for i, p in enumerate(pages, 1):
                print("page %d: %s" % (i, await tools.evaluate(p, MESSAGES)))
            await tools.call("Browser.close")
            reader.cancel()
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


asyncio.run(main())
