"""`byteme tiktok login|logout|sync` against a local fake of TikTok's documented endpoints (tests/tiktok_fake.py).
No test reaches the internet: every address is 127.0.0.1."""
from __future__ import annotations

import base64
import json
import logging
import os
import stat
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from engine import cli
from engine.store import SCHEMA, Store, connect, path_key, reading_as_engagement
from engine.cli import tiktok as command
from engine.tiktok import TikTokAuthError, TikTokError, auth
from engine.tiktok import client as tclient
from engine.tiktok import sync as tsync
from tiktok_fake import CLIENT_KEY, CLIENT_SECRET, OPEN_ID, FakeTikTok, Fault

#: Bound on how long a test waits for a background thread (not an assertion about speed: a hang guard).
HANG_GUARD_S = 60


@pytest.fixture
def fake():
    f = FakeTikTok(videos=45)
    yield f
    f.close()


@pytest.fixture
def env(tmp_path, fake, monkeypatch):
    """A config (client key/secret, token file, the fake's address), a store, and a clean environment."""
    for var in (auth.CLIENT_KEY_ENV, auth.CLIENT_SECRET_ENV, "BYTEME_CONFIG", "BYTEME_STORE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    cfg = tmp_path / "config.toml"
    token_file = tmp_path / "cfgdir" / "tiktok-token.json"
    cfg.write_text(f'[tiktok]\nclient_key = "{CLIENT_KEY}"\nclient_secret = "{CLIENT_SECRET}"\n'
                   f'api_base = "{fake.base}"\ntoken_file = "{token_file}"\n')
    lib = tmp_path / "lib"
    lib.mkdir()

    class Env:
        config = str(cfg)
        token = token_file
        store = str(tmp_path / "store.sqlite3")
        library = lib

        def args(self, *action):
            return ["tiktok", *action, "--config", self.config, "--store", self.store]

    return Env()


def run_cli(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def play_browser(url: str) -> str:
    """What a browser does: load TikTok's authorize page (the fake approves at once and redirects), follow the
    redirect to the 127.0.0.1 listener, and show its page."""
    with urllib.request.urlopen(url, timeout=HANG_GUARD_S) as resp:
        return resp.read().decode()


def signed_in(env, fake, *, scopes=None, expires_in_s=86400.0, refresh_valid=True) -> dict:
    """Write a token file as `login` would, for tokens the fake issued."""
    doc = fake.issue_tokens(scopes)
    now = time.time()
    token = auth.token_from_answer(doc, api_base=fake.base, now=now)
    token.expires_at = now + expires_in_s
    if not refresh_valid:
        fake.refresh[doc["refresh_token"]]["valid"] = False
    auth.save_token(env.token, token)
    return doc


def assert_no_secret(fake, *texts):
    for text in texts:
        for secret in (*fake.every_token(), CLIENT_SECRET):
            assert secret not in text


# --- PKCE, the authorize URL, the listener -----------------------------------------------------------------

def test_code_challenge_is_hex_sha256_of_the_verifier():
    # RFC 7636 appendix B: this verifier's SHA-256 is E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM in base64url;
    # TikTok's desktop flow wants the same digest in hex.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    digest = base64.urlsafe_b64decode("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=")
    assert auth.code_challenge(verifier) == digest.hex()
    v, c = auth.pkce_pair()
    assert len(v) == auth.VERIFIER_LENGTH and set(v) <= set(auth.VERIFIER_ALPHABET)
    assert c == auth.code_challenge(v) and len(c) == 64
    assert auth.pkce_pair()[0] != v


def test_listener_ignores_a_wrong_state_and_takes_the_right_one():
    listener = auth.RedirectListener("right-state")
    try:
        base = listener.redirect_uri
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(base + "?code=evil&state=wrong", timeout=HANG_GUARD_S)
        assert bad.value.code == 400 and b"evil" not in bad.value.read()
        with pytest.raises(urllib.error.HTTPError) as other:
            urllib.request.urlopen(base.replace("/callback/", "/favicon.ico"), timeout=HANG_GUARD_S)
        assert other.value.code == 404
        with urllib.request.urlopen(base + "?code=good&state=right-state", timeout=HANG_GUARD_S) as resp:
            assert resp.status == 200
        assert listener.wait(1) == "good"
        assert listener.deliver("code=late&state=right-state") is None  # one shot
    finally:
        listener.close()


def test_listener_pasted_address_and_declined_sign_in():
    listener = auth.RedirectListener("s1")
    try:
        assert listener.deliver_pasted("https://elsewhere/?code=x&state=nope") is None
        assert listener.deliver_pasted(f"{listener.redirect_uri}?error=access_denied&error_description=no&state=s1") \
            is False
        with pytest.raises(TikTokAuthError, match="declined"):
            listener.wait(1)
    finally:
        listener.close()


def test_listener_gives_up_after_its_timeout():
    listener = auth.RedirectListener("s")
    try:
        with pytest.raises(TikTokAuthError, match=r"within 0.2 s; nothing was saved"):
            listener.wait(0.2)
    finally:
        listener.close()


# --- login / logout ----------------------------------------------------------------------------------------

def test_login_with_the_browser_step_played(env, fake, capsys, monkeypatch):
    seen = {}

    def browser(url):
        seen["url"] = url
        seen["thread"] = threading.Thread(target=lambda: seen.setdefault("page", play_browser(url)))
        seen["thread"].start()
        return True

    monkeypatch.setattr(command, "open_browser", browser)
    code, out, err = run_cli(env.args("login"), capsys)
    seen["thread"].join(HANG_GUARD_S)
    assert code == 0, err
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(seen["url"]).query))
    assert seen["url"].startswith(fake.base + "/v2/auth/authorize/?")
    assert q["client_key"] == CLIENT_KEY and q["scope"] == "user.info.basic,video.list"
    assert q["response_type"] == "code" and q["code_challenge_method"] == "S256" and len(q["state"]) >= 40
    assert urllib.parse.urlsplit(q["redirect_uri"]).hostname == "127.0.0.1"
    assert fake.pkce_checked == 1  # the fake recomputed the challenge from the verifier sent at /v2/oauth/token/
    assert "Signed in" in seen["page"]
    assert stat.S_IMODE(env.token.stat().st_mode) == 0o600
    saved = json.loads(env.token.read_text())
    assert saved["access_token"] in fake.access and saved["open_id"] == OPEN_ID
    assert seen["url"] in out  # printed for SSH users as well
    assert "\\x1b[31m[bold]red[/bold]" in out and "\x1b" not in out  # the display name, escaped
    assert_no_secret(fake, out, err)


def test_login_without_a_browser_prints_the_address_and_waits(env, fake, capsys, monkeypatch):
    monkeypatch.setattr(command, "open_browser", lambda url: pytest.fail("--no-browser must not open one"))
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("code", cli.main(env.args("login", "--no-browser"))))
    t.start()
    printed = ""
    deadline = time.monotonic() + HANG_GUARD_S
    while "/v2/auth/authorize/?" not in printed and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.05)
        printed += capsys.readouterr().out
    url = next(line.strip() for line in printed.splitlines() if "/v2/auth/authorize/?" in line)
    play_browser(url)
    t.join(HANG_GUARD_S)
    out, err = capsys.readouterr()
    assert result["code"] == 0, err
    assert "Signed in" in out and env.token.is_file()
    assert_no_secret(fake, printed, out, err)


def test_login_with_a_permission_left_unticked_says_so(env, fake, capsys, monkeypatch):
    fake.grant_scopes = ("user.info.basic",)
    monkeypatch.setattr(command, "open_browser", lambda url: (threading.Thread(target=play_browser, args=(url,))
                                                               .start(), True)[1])
    code, out, err = run_cli(env.args("login"), capsys)
    assert code == 1 and "did not grant video.list" in err and env.token.is_file()
    code, out, err = run_cli(env.args("sync"), capsys)
    assert code == 2 and "permission (scope)" in err


def test_login_times_out_with_a_plain_message(env, fake, capsys, monkeypatch):
    monkeypatch.setattr(command, "open_browser", lambda url: False)
    code, out, err = run_cli([*env.args("login", "--no-browser"), "--timeout", "0.3"], capsys)
    assert code == 2
    assert "within 0.3 s; nothing was saved" in err and "Traceback" not in err
    assert not env.token.exists()


def test_login_needs_a_client_key(env, fake, capsys, tmp_path):
    cfg = tmp_path / "nokey.toml"
    cfg.write_text(f'[tiktok]\napi_base = "{fake.base}"\n')
    code, out, err = run_cli(["tiktok", "login", "--no-browser", "--config", str(cfg)], capsys)
    assert code == 2 and "client_key" in err and auth.CLIENT_KEY_ENV in err


def test_logout_revokes_and_removes_the_tokens(env, fake, capsys):
    doc = signed_in(env, fake)
    code, out, err = run_cli(env.args("logout"), capsys)
    assert code == 0, err
    assert fake.revoked == [doc["access_token"]] and not env.token.exists()
    assert_no_secret(fake, out, err)
    code, out, err = run_cli(env.args("logout"), capsys)
    assert code == 0 and "Not signed in" in out


def test_logout_when_tiktok_cannot_be_told_is_partial(env, fake, capsys):
    signed_in(env, fake)
    fake.fault(Fault("/v2/oauth/revoke/", status=400, body=b"<html>gateway</html>"))
    code, out, err = run_cli(env.args("logout"), capsys)
    assert code == 1 and not env.token.exists()
    assert "Apps and services" in err
    assert_no_secret(fake, out, err)


# --- token file ---------------------------------------------------------------------------------------------

def test_token_file_is_private_whatever_the_umask(tmp_path):
    path = tmp_path / "new" / "tok.json"
    old = os.umask(0)
    try:
        auth.save_token(path, auth.Token("a" * 20, "r" * 20, time.time() + 60, None))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    warnings = []
    assert auth.load_token(path, warn=warnings.append).access_token == "a" * 20
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "now private" in warnings[0]
    assert "a" * 20 not in repr(auth.load_token(path))


def test_an_unwritable_token_folder_is_a_plain_error(env, fake, capsys, monkeypatch):
    signed_in(env, fake, expires_in_s=-10)
    monkeypatch.setattr(auth.os, "replace", lambda *a: (_ for _ in ()).throw(PermissionError(13, "Permission denied",
                                                                                               str(env.token))))
    code, out, err = run_cli(env.args("sync"), capsys)
    assert code == 1 and "Permission denied" in err and "Traceback" not in err
    assert not list(env.token.parent.glob(".*.tmp"))  # no half-written token file left behind
    assert_no_secret(fake, out, err)


def test_damaged_token_file_is_a_plain_error(env, fake, capsys):
    env.token.parent.mkdir(parents=True, exist_ok=True)
    env.token.write_text("{not json")
    code, out, err = run_cli(env.args("sync"), capsys)
    assert code == 2 and "damaged" in err and "login" in err


def test_tokens_are_never_sent_to_another_address(env, fake, capsys, tmp_path):
    signed_in(env, fake)
    other = FakeTikTok(videos=1)
    try:
        code, out, err = run_cli([*env.args("sync"), "--api-base", other.base], capsys)
        assert code == 2 and "never sent to another address" in err
        assert other.log == []
    finally:
        other.close()


# --- sync ---------------------------------------------------------------------------------------------------

def test_sync_pages_to_the_end_and_prints_json_lines(env, fake, capsys):
    signed_in(env, fake)
    code, out, err = run_cli([*env.args("sync"), "--json", "--to", str(env.library)], capsys)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 45 and fake.counts["/v2/video/list/"] == 3  # 20 + 20 + 5
    assert {v["id"] for v in lines} == {v["id"] for v in fake.videos}
    first = next(v for v in lines if v["id"] == fake.videos[0]["id"])
    assert set(first) == {"id", "title", "create_time", "duration", "view_count", "like_count", "comment_count",
                          "share_count", "read_at", "path"}
    assert first["view_count"] == 1000 and first["like_count"] == 37 and first["path"] is None
    assert first["read_at"].endswith("Z")
    bodies = [json.loads(r["body"]) for r in fake.log if r["path"].startswith("/v2/video/list/")]
    assert [b.get("cursor") for b in bodies] == [None, 20, 40] and all(b["max_count"] == 20 for b in bodies)
    assert_no_secret(fake, out, err)


def test_titles_from_tiktok_are_shown_escaped(env, fake, capsys):
    signed_in(env, fake)
    fake.videos = fake.videos[:1]
    fake.videos[0]["title"] = "Boom\x1b[2J\x1b]0;owned\x07 [bold]x[/bold]"
    code, out, err = run_cli([*env.args("sync"), "--to", str(env.library)], capsys)
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "Boom\\x1b[2J\\x1b]0;owned\\x07 [bold]x[/bold]" in out
    code, out, err = run_cli([*env.args("sync"), "--json", "--to", str(env.library)], capsys)
    assert "\x1b" not in out and json.loads(out)["title"] == fake.videos[0]["title"]


def test_a_second_sync_keeps_the_growth(env, fake, capsys):
    signed_in(env, fake)
    assert run_cli([*env.args("sync"), "--to", str(env.library)], capsys)[0] == 0
    fake.videos[0]["view_count"] = 5000
    assert run_cli([*env.args("sync"), "--to", str(env.library)], capsys)[0] == 0
    store = Store(env.store)
    try:
        history = store.reading_history("tiktok", fake.videos[0]["id"])
        assert [h["view_count"] for h in history] == [1000, 5000]
        assert history[0]["read_at"] < history[1]["read_at"]
        assert len(store.latest_readings("tiktok")) == 45
    finally:
        store.close()


def test_known_videos_refresh_by_id(env, fake, capsys):
    signed_in(env, fake)
    assert run_cli([*env.args("sync"), "--to", str(env.library)], capsys)[0] == 0
    fake.videos[3]["like_count"] = 999
    before = fake.counts["/v2/video/list/"]
    code, out, err = run_cli([*env.args("sync"), "--known", "--json"], capsys)
    assert code == 0, err
    assert fake.counts["/v2/video/list/"] == before and fake.counts["/v2/video/query/"] == 3  # 45 ids, 20 a call
    assert {json.loads(x)["id"]: json.loads(x)["like_count"] for x in out.splitlines()}[fake.videos[3]["id"]] == 999


def test_sync_matches_clips_by_tiktok_id(env, fake, capsys):
    signed_in(env, fake)
    clip = env.library / "sub" / "my_clip.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"x")
    clip.with_name("my_clip.info.json").write_text(json.dumps({"id": fake.videos[2]["id"], "extractor_key": "TikTok"}))
    other = env.library / "yt.mp4"  # same id but not from TikTok: not matched
    other.write_bytes(b"x")
    other.with_name("yt.info.json").write_text(json.dumps({"id": fake.videos[3]["id"], "extractor_key": "Youtube"}))
    code, out, err = run_cli([*env.args("sync"), "--json", "--to", str(env.library)], capsys)
    assert code == 0, err
    paths = {json.loads(x)["id"]: json.loads(x)["path"] for x in out.splitlines()}
    assert paths[fake.videos[2]["id"]] == str(clip) and paths[fake.videos[3]["id"]] is None
    store = Store(env.store)
    try:
        assert store.readings_by_path()[path_key(clip)]["video_id"] == fake.videos[2]["id"]
    finally:
        store.close()


def test_download_writes_a_sidecar_and_matches_next_time(env, fake, tmp_path):
    fake.videos = fake.videos[:2]
    downloaded = []

    def fetch(urls, *, to_dir):
        from engine.ingest import FetchResult

        url = urls[0]
        path = Path(to_dir) / f"download_{len(downloaded)}.mp4"  # a name without the id, like yt-dlp's generic one
        path.write_bytes(b"video")
        downloaded.append(url)
        return [FetchResult(url=url, status="ok", path=path)]

    doc = signed_in(env, fake)
    keeper = auth.TokenKeeper(auth.settings_from({"tiktok": {"api_base": fake.base, "token_file": str(env.token)}}),
                              tclient.Transport(timeout_s=10))
    c = tclient.TikTokClient(keeper, keeper.transport, fake.base)
    store = Store(env.store)
    try:
        first = tsync.sync(c, store, to_dir=env.library, download=True, fetch=fetch)
        assert first.complete and downloaded == [v["share_url"] for v in fake.videos]
        side = json.loads((env.library / "download_0.tiktok.json").read_text())
        assert side["tiktok_id"] == fake.videos[0]["id"]
        again = tsync.sync(c, store, to_dir=env.library, download=True, fetch=fetch)
        assert len(downloaded) == 2  # nothing downloaded twice: the sidecars match
        assert {v["id"]: v["path"] for v in again.videos} == {
            fake.videos[0]["id"]: str(env.library / "download_0.mp4"),
            fake.videos[1]["id"]: str(env.library / "download_1.mp4")}
    finally:
        store.close()
    assert doc


def test_sync_download_through_yt_dlp_from_the_share_address(env, fake, capsys, tmp_path):
    """--download: yt-dlp fetches share_url (here the fake's direct file, which yt-dlp's generic extractor names
    by the URL, not the TikTok id): sync writes <clip>.tiktok.json, and the next sync matches without fetching."""
    from conftest import build_clip

    clip = build_clip(tmp_path / "src.mp4", duration_s=1.0, width=180, height=320)
    fake.media["v0.mp4"] = clip.read_bytes()
    fake.videos = fake.videos[:1]
    fake.videos[0]["share_url"] = f"{fake.base}/media/v0.mp4"
    signed_in(env, fake)
    code, out, err = run_cli([*env.args("sync"), "--json", "--download", "--to", str(env.library)], capsys)
    assert code == 0, err
    [line] = [json.loads(x) for x in out.splitlines()]
    got = Path(line["path"])
    assert got.parent == env.library.resolve() and got.read_bytes() == fake.media["v0.mp4"]
    assert json.loads(got.with_name(got.stem + ".tiktok.json").read_text())["tiktok_id"] == fake.videos[0]["id"]
    fetched = fake.counts.get("/media/v0.mp4", 0)
    code, out, err = run_cli([*env.args("sync"), "--json", "--download", "--to", str(env.library)], capsys)
    assert code == 0, err
    assert json.loads(out)["path"] == line["path"] and fake.counts.get("/media/v0.mp4", 0) == fetched


def test_expired_token_is_refreshed_once(env, fake, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    old = signed_in(env, fake, expires_in_s=-10)
    code, out, err = run_cli([*env.args("sync"), "--to", str(env.library)], capsys)
    assert_no_secret(fake, caplog.text)
    assert code == 0, err
    assert fake.counts["/v2/oauth/token/"] == 1
    saved = json.loads(env.token.read_text())
    assert saved["access_token"] != old["access_token"] and saved["refresh_token"] != old["refresh_token"]
    assert stat.S_IMODE(env.token.stat().st_mode) == 0o600
    assert_no_secret(fake, out, err)


def test_a_token_tiktok_calls_invalid_is_refreshed_once_then_the_call_repeated(env, fake, capsys):
    doc = signed_in(env, fake)
    fake.access[doc["access_token"]]["valid"] = False  # revoked or expired on TikTok's side
    code, out, err = run_cli([*env.args("sync"), "--to", str(env.library)], capsys)
    assert code == 0, err
    assert fake.counts["/v2/oauth/token/"] == 1 and fake.counts["/v2/user/info/"] == 2


def test_revoked_refresh_token_is_exit_2_with_a_plain_message(env, fake, capsys):
    signed_in(env, fake, expires_in_s=-10, refresh_valid=False)
    code, out, err = run_cli([*env.args("sync"), "--to", str(env.library)], capsys)
    assert code == 2
    assert "expired or was revoked" in err and "byteme tiktok login" in err and "Traceback" not in err
    assert fake.counts.get("/v2/video/list/") is None
    assert_no_secret(fake, out, err)


def test_missing_scope_is_exit_2_with_a_plain_message(env, fake, capsys):
    signed_in(env, fake, scopes=("user.info.basic",))
    code, out, err = run_cli([*env.args("sync"), "--to", str(env.library)], capsys)
    assert code == 2
    assert "permission (scope)" in err and "video.list" in err and "LOG123" in err


def test_rate_limit_429_then_success(env, fake, capsys):
    signed_in(env, fake)
    limited = json.dumps({"data": {}, "error": {"code": "rate_limit_exceeded", "message": "", "log_id": "L"}})
    fake.fault(Fault("/v2/video/list/", status=429, body=limited.encode(), times=2, headers={"Retry-After": "0"}))
    code, out, err = run_cli([*env.args("sync"), "--json", "--to", str(env.library)], capsys)
    assert code == 0, err
    assert len(out.splitlines()) == 45 and fake.counts["/v2/video/list/"] == 5  # 2 refused + 3 pages


def test_5xx_is_retried_with_backoff_within_a_bound():
    sleeps = []
    f = FakeTikTok(videos=0)
    try:
        f.fault(Fault("/v2/user/info/", status=503, body=b"<html>busy</html>", times=10))
        t = tclient.Transport(timeout_s=10, sleep=sleeps.append)
        keeper = type("K", (), {"access_token": lambda self: "t" * 8, "secrets": lambda self: [],
                                "refresh_now": lambda self: None})()
        with pytest.raises(TikTokError, match=r"not JSON \(HTTP 503\)"):
            tclient.TikTokClient(keeper, t, f.base).user_info()
        assert f.counts["/v2/user/info/"] == tclient.MAX_ATTEMPTS
        assert sleeps == [1.0, 2.0, 4.0]
    finally:
        f.close()


def test_retry_after_is_honoured_up_to_the_cap():
    assert tclient._retry_after_s("7") == 7.0
    assert tclient._retry_after_s("soon") is None
    sleeps = []
    f = FakeTikTok(videos=0)
    try:
        f.fault(Fault("/x", status=429, body=b"{}", times=1, headers={"Retry-After": "3600"}))
        resp = tclient.Transport(timeout_s=10, sleep=sleeps.append).request("GET", f.base + "/x")
        assert sleeps == [tclient.BACKOFF_CAP_S] and resp.status == 404
    finally:
        f.close()


def test_malformed_body_keeps_what_was_read_and_says_so(env, fake, capsys):
    signed_in(env, fake)
    fake.malformed_at_cursor = 20  # page 2 is cut off mid-JSON
    code, out, err = run_cli([*env.args("sync"), "--json", "--to", str(env.library)], capsys)
    assert code == 1
    assert len(out.splitlines()) == 20 and "not JSON" in err and "Stopped after 20 video(s)" in err
    store = Store(env.store)
    try:
        assert len(store.latest_readings("tiktok")) == 20
    finally:
        store.close()


def test_slow_server_times_out_with_a_plain_message(env, fake, capsys):
    signed_in(env, fake)
    fake.fault(Fault("/v2/user/info/", delay_s=2.0, times=1))
    code, out, err = run_cli([*env.args("sync"), "--timeout", "0.3", "--to", str(env.library)], capsys)
    assert code == 1
    assert "did not answer within 0.3 s" in err and "--timeout" in err and "Traceback" not in err


def test_api_errors_have_plain_words_for_every_documented_code():
    for code in tclient.API_ERRORS:
        err = tclient.api_error(code, "detail", "LOGID", 400, [])
        assert "LOGID" in err.message and code not in ("",)
    assert isinstance(tclient.api_error("scope_not_authorized", "", "", 401, []), TikTokAuthError)
    assert "tok-SECRET-1" not in tclient.api_error("weird_code", "echo tok-SECRET-1", "", 400, ["tok-SECRET-1"]).message
    assert "\x1b" not in tclient.api_error("x\x1b[2J", "m\x1b[31m", "", 400, []).message


def test_byteme_config_never_shows_the_client_secret_or_tokens(env, fake, capsys):
    doc = signed_in(env, fake)
    code, out, err = run_cli(["config", "--config", env.config], capsys)
    assert code == 0
    assert CLIENT_SECRET not in out and "(set; hidden)" in out
    assert doc["access_token"] not in out and doc["refresh_token"] not in out
    from byteme_tui.screens.settings import settings_of
    from engine.config import explain_sources, load_config

    rows = settings_of(load_config(env.config), explain_sources(env.config))
    assert all(CLIENT_SECRET not in str(s.value) for s in rows)
    assert any(s.keys == ("tiktok", "client_secret") and s.value == "(set; hidden)" for s in rows)


def test_signing_in_does_not_change_the_config_hash(tmp_path):
    from engine.config import config_hash, load_config

    cfg = tmp_path / "c.toml"
    cfg.write_text('[tiktok]\nclient_key = "k"\n')
    assert config_hash(load_config(str(cfg))) == config_hash(load_config(use_user_file=False))


# --- the store and training ----------------------------------------------------------------------------------

def test_an_old_store_gains_the_readings_table_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = connect(path)
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO clips(path, content_hash) VALUES ('/a.mp4', 'h1')")
    conn.close()
    store = Store(path)
    try:
        assert store.conn.execute("SELECT content_hash FROM clips").fetchall() == [("h1",)]
        store.add_readings([{"source": "tiktok", "video_id": "1", "read_at": 5.0, "view_count": 10, "path": None}])
        assert store.latest_readings()[0]["view_count"] == 10
    finally:
        store.close()
    assert Store(path).conn.execute("SELECT COUNT(*) FROM engagement_readings").fetchone() == (1,)


def test_train_labels_read_the_synced_numbers(tmp_path):
    from engine.train.labels import read_folder_labels

    clips = []
    for i, (views, likes) in enumerate([(1000, 10), (1000, 50), (2000, 300), (500, 1)]):
        p = tmp_path / f"c{i}.mp4"
        p.write_bytes(b"x")
        clips.append((p, views, likes))
    (tmp_path / "c3.info.json").write_text(json.dumps({"view_count": 100, "like_count": 99, "uploader": "u"}))
    synced = {path_key(p): reading_as_engagement({"view_count": v, "like_count": lk, "comment_count": 0,
                                                "share_count": 0, "account": OPEN_ID})
              for p, v, lk in clips[:3]}
    ls = read_folder_labels(tmp_path, "like_rate", synced)
    # like rates 0.01, 0.05, 0.15 (synced) and 0.99 (.info.json: c3 has no synced numbers): ranks 0, 33, 67, 100
    assert [p.name for p in ls.paths] == ["c0.mp4", "c1.mp4", "c2.mp4", "c3.mp4"]
    assert ls.overall == pytest.approx([0.0, 100 / 3, 200 / 3, 100.0])
    assert ls.groups[:3] == [f"clip:{p}" for p, _, _ in clips[:3]] and ls.groups[3] == "uploader:u"
    views = read_folder_labels(tmp_path, "views", synced)
    # views 1000, 1000, 2000, 100: average ranks 2.5, 2.5, 4, 1 -> (rank - 1) / 3 x 100
    assert views.overall == pytest.approx([50.0, 50.0, 100.0, 0.0])


def test_eval_on_a_folder_uses_synced_numbers(env, fake, capsys, clips):
    """The training path end to end: sync matches clips, `byteme eval FOLDER --target like_rate` reads them."""
    from conftest import build_clip

    signed_in(env, fake)
    fake.videos = fake.videos[:3]
    for i, v in enumerate(fake.videos):
        clip = build_clip(env.library / f"own{i}.mp4", duration_s=1.0, seed=i, width=180, height=320)
        clip.with_name(f"own{i}.tiktok.json").write_text(json.dumps({"tiktok_id": v["id"]}))
    assert run_cli([*env.args("sync"), "--to", str(env.library)], capsys)[0] == 0
    code, out, err = run_cli(["eval", str(env.library), "--target", "like_rate", "--no-ocr", "--model", "none",
                              "--config", env.config, "--store", env.store], capsys)
    assert code == 0, err
    assert "Correlation with like_rate on all 3 labelled clips" in out


def test_similar_score_performance_known_answer():
    r = lambda v, lk: {"view_count": v, "like_count": lk}
    pairs = [(60.0, r(1000, 10)), (65.0, r(3000, 300)), (72.0, r(2000, 100)), (90.0, r(10**6, 1)), (None, r(5, 5))]
    got = tsync.similar_score_performance(pairs, 64.0)
    assert got["n"] == 3 and got["median_views"] == 2000
    assert got["median_like_rate"] == pytest.approx(0.05) and (got["low"], got["high"]) == (54.0, 74.0)
    assert tsync.similar_score_performance(pairs, 30.0) is None
    assert tsync.short_count(12345) == "12.3k" and tsync.short_count(999) == "999"


# --- the terminal app -----------------------------------------------------------------------------------------

def test_library_and_breakdown_show_the_synced_numbers():
    import asyncio

    from byteme_tui.app import BytemeApp
    from fake_backend import FakeBackend, fake_result
    from byteme_tui.screens.breakdown import BreakdownScreen
    from byteme_tui.widgets.clip_table import ClipTable

    # the fake's overall scores are 41.9, 61.9, 81.9, 62.5, 82.5 for clip_000..004: within 10 points of clip_001's
    # 61.9 is only clip_003 (4000 views, 160 likes)
    assert [fake_result("x", i).scores.overall for i in range(5)] == [41.9, 61.9, 81.9, 62.5, 82.5]
    synced = {f"clip_{i:03d}.mp4": (1000 * (i + 1), 10 * (i + 1) ** 2) for i in range(5)}

    async def main():
        app = BytemeApp(FakeBackend(synced=synced), poll_interval_s=None)
        async with app.run_test(size=(120, 40)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.screen.query_one(ClipTable)
            table.move_cursor(row=[p.rsplit("/", 1)[-1] for p in table._keys].index("clip_002.mp4"))
            await pilot.pause()
            line = app.screen.query_one("#current").render().plain
            assert line.startswith("clip_002.mp4 · TikTok 3.0k views, 3.0% likes: ")  # 90 likes / 3000 views
            table.move_cursor(row=[p.rsplit("/", 1)[-1] for p in table._keys].index("clip_001.mp4"))
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, BreakdownScreen)
            head = app.screen.query_one("#headline").render().plain
            assert head.splitlines()[-1] == ("On TikTok: 2.0k views, 2.0% likes · your clips scoring 52-72: median "
                                             "4.0k views, 4.0% likes (1 clip)")

    asyncio.run(main())


def test_backend_reads_synced_numbers_from_the_store(tmp_path):
    from engine.service import LibraryService

    (tmp_path / "a.mp4").write_bytes(b"x")
    store = Store(tmp_path / "s.sqlite3")
    store.add_readings([{"source": "tiktok", "video_id": "9", "read_at": 1.0, "view_count": 200, "like_count": 8,
                         "path": tmp_path / "a.mp4"}])
    store.close()
    be = LibraryService(tmp_path, store_path=tmp_path / "s.sqlite3", executor="thread")
    try:
        row = be.open().rows[path_key(tmp_path / "a.mp4")]
        assert (row.views, row.likes, row.like_rate) == (200, 8, 0.04)
    finally:
        be.shutdown(cancel_jobs=True)
