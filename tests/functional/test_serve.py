"""`byteme serve`: the terminal app in a browser (textual-serve). The address rule (this machine only unless
--allow-remote, with a warning), the command each browser session runs, and the real thing in headless Chromium:
the page loads, the library lists the clips, Enter opens a breakdown (screenshots in the test's tmp dir)."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from argparse import Namespace
from pathlib import Path

import pytest

from engine import cli
from engine.cli.serve import is_local

ROOT = Path(__file__).resolve().parents[2]
#: Seconds to wait for the server to answer (a bound on a hang, not a timing).
SERVER_START_S = 60.0


def test_local_addresses():
    assert all(is_local(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_local(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.org", ""))


def test_serve_listens_on_this_machine_unless_allowed(tmp_path, capsys):
    calls = []

    def fake_serve(folder, args):
        calls.append((folder, args.host, args.port))
        return 0

    assert cli.main(["serve", str(tmp_path)], serve=fake_serve) == 0
    assert calls == [(tmp_path.resolve(), "127.0.0.1", 8000)] and capsys.readouterr().err == ""
    assert cli.main(["serve", str(tmp_path), "--host", "0.0.0.0"], serve=fake_serve) == 2
    err = capsys.readouterr().err
    assert "--allow-remote" in err and len(calls) == 1  # refused, nothing served
    assert cli.main(["serve", str(tmp_path), "--host", "0.0.0.0", "--allow-remote", "--port", "8123"],
                    serve=fake_serve) == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and "no password" in err and calls[-1][1:] == ("0.0.0.0", 8123)
    assert cli.main(["serve", str(tmp_path / "missing")], serve=fake_serve) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert cli.main(["serve", str(tmp_path)]) == 2  # the engine alone cannot serve: byteme_tui passes it in


def test_each_session_runs_the_app_on_the_folder_with_the_same_store(tmp_path):
    from byteme_tui.serve import GOOGLE_FONTS_LINK, app_command, offline_page

    folder = tmp_path / "my clips; rm -rf ~"
    args = Namespace(config=None, preset="reels", store=str(tmp_path / "s.sqlite3"))
    argv = shlex.split(app_command(folder, args))
    assert argv == [sys.executable, "-m", "byteme_tui.launch", "tui", str(folder), "--preset", "reels", "--store",
                    str((tmp_path / "s.sqlite3").resolve())]  # quoted: the folder's name is one argument
    import textual_serve

    page = (Path(textual_serve.__file__).parent / "templates" / "app_index.html").read_text()
    assert GOOGLE_FONTS_LINK.search(page), "textual-serve's page changed: check offline_page"
    assert "googleapis" not in offline_page(page) and "RobotoMono" in offline_page(page)


def test_the_page_connects_back_to_an_address_a_browser_can_reach():
    from byteme_tui.serve import public_url

    assert public_url(Namespace(host="127.0.0.1", port=8000, public_url=None)) is None  # textual-serve's own
    assert public_url(Namespace(host="::1", port=8000, public_url=None)) == "http://[::1]:8000"
    assert public_url(Namespace(host="0.0.0.0", port=9000, public_url=None)) == f"http://{socket.getfqdn()}:9000"
    assert public_url(Namespace(host="0.0.0.0", port=9000, public_url="https://clips.example/")) == \
        "https://clips.example"


def test_the_engine_never_imports_textual_serve():
    code = ("import sys, engine.cli, engine.cli.serve; from engine.cli import main; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'textual_serve')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


# -- in a browser ------------------------------------------------------------------------------------------------

#: Records what the server sends to the page's terminal (the app's screen as terminal output) so the test can
#: read it: xterm.js draws on a canvas, which has no text to query.
CAPTURE_JS = """
window.__screen = [];
const NativeWebSocket = window.WebSocket;
class RecordingWebSocket extends NativeWebSocket {
  constructor(...a) {
    super(...a);
    this.addEventListener('message', ev => {
      const push = buf => window.__screen.push(new TextDecoder().decode(buf));
      if (ev.data instanceof ArrayBuffer) push(ev.data);
      else if (ev.data && ev.data.arrayBuffer) ev.data.arrayBuffer().then(push);
    });
  }
}
window.WebSocket = RecordingWebSocket;
"""
ANSI = re.compile(r"\x1b(\[[0-9;?<=>]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settle(browser, polls: int = 4) -> None:
    """Wait until the server has sent nothing new for ``polls`` looks in a row (the screen is drawn)."""
    last, same = -1, 0
    deadline = time.monotonic() + SERVER_START_S
    while same < polls and time.monotonic() < deadline:
        n = browser.evaluate("window.__screen.length")
        same = same + 1 if n == last else 0
        last = n
        time.sleep(0.25)


def _screen_text(browser, since: int = 0) -> str:
    chunks = browser.evaluate(f"window.__screen.slice({since}).join('')") or ""
    return ANSI.sub("", chunks)


@pytest.fixture()
def scored_folder(good_clip, clips, tmp_path, monkeypatch):
    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy(good_clip, folder / "alpha.mp4")
    shutil.copy(clips("serve_dark", video=lambda i, t: __import__("numpy").full((640, 360, 3), 30, "uint8")),
                folder / "bravo.mp4")
    store = tmp_path / "store.sqlite3"
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BYTEME_CONFIG", str(tmp_path / "no-user-config.toml"))
    assert cli.main(["score", str(folder), "--no-ocr", "--model", "none", "--store", str(store), "--quiet"]) == 0
    return folder, store


def test_the_app_in_headless_chromium(scored_folder, tmp_path, capsys):
    from cdp import Browser, chromium

    if chromium() is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    pytest.importorskip("textual_serve")
    capsys.readouterr()
    folder, store = scored_folder
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BYTEME_DATA_DIR": str(tmp_path / "data"),
           "BYTEME_CONFIG": str(tmp_path / "no-user-config.toml")}
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "byteme_tui.launch", "serve", str(folder), "--port", str(port),
                               "--store", str(store)], env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    page = resp.read().decode()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.25)
        assert "googleapis" not in page and "textual-terminal" in page
        with Browser(tmp_path / "profile", width=1280, height=800) as b:
            b.send("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE_JS)
            b.open(url)
            b.wait_for("document.body.classList.contains('-first-byte')")  # the app's first screen arrived
            b.wait_for("(() => { const t = window.__screen.join(''); return t.includes('alpha.mp4') && "
                       "t.includes('bravo.mp4'); })()")
            library = b.screenshot(tmp_path / "serve-library.png")
            before = b.evaluate("window.__screen.length")
            assert "Originality" not in _screen_text(b)
            b.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
            b.press("Enter", "Enter", 13, "\r")
            b.wait_for(f"window.__screen.slice({before}).join('').includes('Originality')")
            text = _screen_text(b, before)
            assert "Rewards" in text and "Hook" in text  # the breakdown's tabs
            _settle(b)  # the last frames painted before the picture (the assertions above do not depend on it)
            breakdown = b.screenshot(tmp_path / "serve-breakdown.png")
        with capsys.disabled():
            print(f"\nbrowser screenshots: {library} {breakdown}")
        assert library.stat().st_size > 10_000 and breakdown.stat().st_size > 10_000
    finally:
        os.killpg(server.pid, 15)  # the server and the app processes it started for the browser session
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()
        log.close()
