"""Headless Chromium for tests, driven over the Chrome DevTools Protocol (aiohttp's websocket client; no
playwright, no driver binary, no download). Only what the report and ``byteme serve`` tests need: open a page at
a window size, evaluate JavaScript, press keys, take a screenshot.

    with Browser(tmp_path, width=1280, height=900) as b:
        b.open("file:///.../index.html")
        b.evaluate("document.title")
        b.screenshot(tmp_path / "index.png")
"""
from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

#: Flags for a headless, offline, throwaway Chromium: no GPU, no sandbox (containers), no network chatter.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars",
                  "--mute-audio")
#: Seconds to wait for Chromium to start, a page to load or a condition to hold before a test fails. Generous:
#: the machine is shared; these bound a hang, they do not time anything.
STARTUP_S, LOAD_S, WAIT_S = 60.0, 60.0, 90.0
#: Between two looks at a condition.
POLL_S = 0.25


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One Chromium process with one page, ``width`` x ``height`` CSS px."""

    def __init__(self, profile: Path, *, width: int = 1280, height: int = 900, exe: str | None = None):
        self.exe = exe or chromium()
        if self.exe is None:
            raise RuntimeError("Chromium is not installed")
        self.profile = Path(profile)
        self.width, self.height = width, height
        self.loop = asyncio.new_event_loop()
        self.proc = None
        self.session = self.ws = None
        self._id = 0
        self.events: list[dict] = []

    # -- process and connection --------------------------------------------------------------------------------

    def __enter__(self) -> "Browser":
        self.profile.mkdir(parents=True, exist_ok=True)
        port_file = self.profile / "DevToolsActivePort"
        port_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen([self.exe, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                                      "--remote-debugging-port=0", f"--window-size={self.width},{self.height}",
                                      "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_S
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Chromium did not start")
            time.sleep(POLL_S)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=LOAD_S) as resp:
            pages = [t for t in json.load(resp) if t.get("type") == "page"]
        self.loop.run_until_complete(self._connect(pages[0]["webSocketDebuggerUrl"]))
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=self.width < 600)
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.ws is not None:
                self.loop.run_until_complete(self.ws.close())
            if self.session is not None:
                self.loop.run_until_complete(self.session.close())
        finally:
            if self.proc is not None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.loop.close()

    async def _connect(self, url: str) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(url, max_msg_size=0)

    async def _send(self, method: str, params: dict) -> dict:
        self._id += 1
        mine = self._id
        await self.ws.send_str(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            msg = json.loads((await asyncio.wait_for(self.ws.receive(), LOAD_S)).data)
            if msg.get("id") == mine:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def send(self, method: str, **params) -> dict:
        return self.loop.run_until_complete(self._send(method, params))

    # -- what tests do -----------------------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str):
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"JavaScript failed: {res['exceptionDetails']}")
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout_s: float = WAIT_S):
        """Evaluate ``expression`` until it is truthy; its value. Raises TimeoutError with the expression."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"never true: {expression}")
            time.sleep(POLL_S)

    def press(self, key: str, code: str, key_code: int, text: str = "") -> None:
        """One key press (down and up), as a person would type it."""
        down = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": key_code,
                "nativeVirtualKeyCode": key_code}
        if text:
            down.update(text=text, unmodifiedText=text)
        self.send("Input.dispatchKeyEvent", **down)
        self.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=key_code,
                  nativeVirtualKeyCode=key_code)

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params = {"format": "png"}
        if full_page:
            size = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": size[0], "height": size[1],
                                                            "scale": 1})
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path
