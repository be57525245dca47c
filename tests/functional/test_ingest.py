"""engine.ingest: yt-dlp downloads from a local HTTP server on 127.0.0.1 (no other traffic)."""
from __future__ import annotations

import argparse
import http.server
import json
import socket
import threading
import urllib.parse
from pathlib import Path

import av
import numpy as np
import pytest

from engine import ingest, media, sidecars
from engine.cli import fetch as fetch_command
from engine.errors import IngestError

CLIP_FRAMES = 64
CLIP_W, CLIP_H = 160, 284
CLIP_FPS = 30
SAMPLE_RATE = 44100
FAST = dict(retries=0, socket_timeout_s=3.0)  # keep every failing case quick

# --- media fixtures ------------------------------------------------------------------------------


def _write_clip(path: Path, *, faststart: bool) -> bytes:
    """64 frames 160x284 H.264 + a 440 Hz AAC tone; faststart puts the index first (so a cut-off file opens)."""
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        video = out.add_stream("h264", rate=CLIP_FPS)
        video.width, video.height, video.pix_fmt = CLIP_W, CLIP_H, "yuv420p"
        audio = out.add_stream("aac", rate=SAMPLE_RATE)
        for i in range(CLIP_FRAMES):
            img = np.full((CLIP_H, CLIP_W, 3), (i * 4) % 256, np.uint8)
            img[i % CLIP_H, :, 1] = 255
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        n = int(CLIP_FRAMES / CLIP_FPS * SAMPLE_RATE)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / SAMPLE_RATE)).astype(np.float32)
        for start in range(0, n, 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts = SAMPLE_RATE, start
            for packet in audio.encode(frame):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                out.mux(packet)
    return path.read_bytes()


@pytest.fixture(scope="session")
def clip_bytes(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("ingest_media")
    return {"plain": _write_clip(folder / "plain.mp4", faststart=False),
            "faststart": _write_clip(folder / "fast.mp4", faststart=True)}


# --- local server --------------------------------------------------------------------------------

PAGE = b"""<!DOCTYPE html><html><head><title>Test page</title></head>
<body><h1>Clip</h1><video controls src="/media/inpage.mp4"></video></body></html>"""
TWO_VIDEO_PAGE = b"""<!DOCTYPE html><html><head><title>Two clips</title></head><body>
<video src="/media/one.mp4"></video><video src="/media/two.mp4"></video></body></html>"""
SUBS_PAGE = b"""<!DOCTYPE html><html><head><title>With captions</title></head><body>
<video src="/media/subbed.mp4"><track kind="subtitles" src="/subs.vtt" srclang="en" label="English">
</video></body></html>"""
EVIL_SUBS_PAGE = b"""<!DOCTYPE html><html><head><title>Evil captions</title></head><body>
<video src="/media/subbed.mp4"><track kind="subtitles" src="/subs.vtt" srclang="../../../escape"></video>
</body></html>"""
#: A title that would make a hidden file (a leading dot, a climb out of the folder), on a page with a video.
DOT_TITLE_PAGE = b"""<!DOCTYPE html><html><head><title>../../.secret clip</title></head>
<body><video controls src="/media/inpage.mp4"></video></body></html>"""
VTT = b"WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n"
FILE_SRC_PAGE = b"""<!DOCTYPE html><html><head><title>Local file</title></head><body>
<video src="file:///etc/hostname"></video></body></html>"""
# DASH manifest with separate video and audio representations only (what many big sites serve)
SEPARATE_STREAMS_MPD = b"""<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2S"
     profiles="urn:mpeg:dash:profile:isoff-on-demand:2011" minBufferTime="PT1S">
 <Period>
  <AdaptationSet mimeType="video/mp4" contentType="video">
   <Representation id="v1" codecs="avc1.64001f" width="160" height="284" bandwidth="200000">
    <BaseURL>/media/v.mp4</BaseURL><SegmentBase indexRange="0-100"/></Representation>
  </AdaptationSet>
  <AdaptationSet mimeType="audio/mp4" contentType="audio" lang="en">
   <Representation id="a1" codecs="mp4a.40.2" audioSamplingRate="44100" bandwidth="64000">
    <BaseURL>/media/a.m4a</BaseURL><SegmentBase indexRange="0-100"/></Representation>
  </AdaptationSet>
 </Period>
</MPD>"""
NO_VIDEO_PAGE = b"<!DOCTYPE html><html><head><title>Nothing</title></head><body><p>No video here.</p></body></html>"


def _make_handler(clips: dict[str, bytes], hits: dict[str, int], cookies_seen: list | None = None):
    cookies_seen = cookies_seen if cookies_seen is not None else []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output clean
            pass

        def _send(self, status: int, body: bytes, ctype: str, *, length: int | None = None, close=False):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if length is not None:
                self.send_header("Content-Length", str(length))
            if close or length is None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            path = urllib.parse.unquote(self.path.split("?")[0])
            hits[path] = hits.get(path, 0) + 1
            plain = clips["plain"]
            if self.headers.get("Cookie"):
                cookies_seen.append((path, self.headers["Cookie"]))
            if path in ("/media/clip.mp4", "/media/inpage.mp4", "/media/one.mp4", "/media/two.mp4",
                        "/media/slow.mp4", "/media/subbed.mp4", "/media/private.mp4"):
                self._send(200, plain, "video/mp4", length=len(plain))
            elif path == "/page.html":
                self._send(200, PAGE, "text/html; charset=utf-8", length=len(PAGE))
            elif path == "/dot-title.html":
                self._send(200, DOT_TITLE_PAGE, "text/html; charset=utf-8", length=len(DOT_TITLE_PAGE))
            elif path == "/subs.html":
                self._send(200, SUBS_PAGE, "text/html; charset=utf-8", length=len(SUBS_PAGE))
            elif path == "/separate.mpd":
                self._send(200, SEPARATE_STREAMS_MPD, "application/dash+xml", length=len(SEPARATE_STREAMS_MPD))
            elif path == "/file-src.html":
                self._send(200, FILE_SRC_PAGE, "text/html; charset=utf-8", length=len(FILE_SRC_PAGE))
            elif path == "/evil-subs.html":
                self._send(200, EVIL_SUBS_PAGE, "text/html; charset=utf-8", length=len(EVIL_SUBS_PAGE))
            elif path == "/subs.vtt":
                self._send(200, VTT, "text/vtt", length=len(VTT))
            elif path == "/two.html":
                self._send(200, TWO_VIDEO_PAGE, "text/html; charset=utf-8", length=len(TWO_VIDEO_PAGE))
            elif path == "/nothing.html":
                self._send(200, NO_VIDEO_PAGE, "text/html; charset=utf-8", length=len(NO_VIDEO_PAGE))
            elif path == "/notes.txt":
                body = b"just some notes, not a video\n" * 20
                self._send(200, body, "text/plain", length=len(body))
            elif path == "/media/fake.mp4":  # says video, is text
                body = b"this is not an mp4 file at all\n" * 200
                self._send(200, body, "video/mp4", length=len(body))
            elif path == "/media/half.mp4":  # promises the whole file, sends half, hangs up
                body = clips["faststart"]
                self._send(200, body[: len(body) // 2], "video/mp4", length=len(body), close=True)
            elif path == "/media/half-nolength.mp4":  # no length: the cut is invisible to HTTP
                body = clips["faststart"]
                self._send(200, body[: len(body) // 2], "video/mp4", length=None)
            elif path == "/media/control\x1bchars.mp4":
                self._send(200, plain, "video/mp4", length=len(plain))
            else:
                body = b"<html><body>404 Not Found</body></html>"
                self._send(404, body, "text/html", length=len(body))

    return Handler


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # clients hanging up mid-body are part of the tests
        pass


@pytest.fixture(scope="module")
def server(clip_bytes):
    hits: dict[str, int] = {}
    cookies_seen: list = []
    httpd = _QuietServer(("127.0.0.1", 0), _make_handler(clip_bytes, hits, cookies_seen))
    hits["cookies"] = cookies_seen
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, hits
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(ingest.session, "RETRY_BACKOFF_S", 0.01)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _clip_like(folder: Path) -> list[Path]:
    """Files a library scanner would take for a clip: video extensions outside dot-folders."""
    return [p for p in _files(folder)
            if p.suffix.lower() in {".mp4", ".mov", ".webm", ".mkv", ".m4v"}
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)]


def _assert_nothing_left(folder: Path) -> None:
    assert _files(folder) == [], f"leftovers: {_files(folder)}"


# --- successful downloads ------------------------------------------------------------------------


def test_direct_file_lands_under_folder_with_info_json_then_archive_skips(server, clip_bytes, tmp_path):
    base, hits = server
    lib, archive = tmp_path / "lib", tmp_path / "archive.txt"
    [result] = ingest.fetch([f"{base}/media/clip.mp4"], to_dir=lib, archive=archive, **FAST)
    assert result.status == "ok", result.error
    assert result.error is None
    assert result.path is not None and result.path.parent == lib.resolve()
    assert result.path.suffix == ".mp4"
    assert result.path.read_bytes() == clip_bytes["plain"]
    assert result.info_path is not None and result.info_path.parent == lib.resolve()
    assert result.info_path.name.endswith(".info.json")
    info = json.loads(result.info_path.read_text())
    assert info["id"] == "clip"
    assert not (lib / ingest.PARTIAL_DIRNAME).exists()
    assert archive.read_text().split() == ["generic", "clip"]

    downloads_before = hits.get("/media/clip.mp4", 0)
    [again] = ingest.fetch([f"{base}/media/clip.mp4"], to_dir=lib, archive=archive, **FAST)
    assert again.status == "skipped"
    assert again.path is None and again.error is None
    # the generic extractor looks at the URL again, but no second copy is written
    assert sorted(p.name for p in _files(lib)) == sorted([result.path.name, result.info_path.name])
    assert hits["/media/clip.mp4"] - downloads_before <= 1


def test_page_with_video_tag(server, clip_bytes, tmp_path):
    base, _ = server
    lib = tmp_path / "lib"
    results = ingest.fetch([f"{base}/page.html"], to_dir=lib, archive=tmp_path / "a.txt", **FAST)
    assert [r.status for r in results] == ["ok"], results
    [result] = results
    assert result.path.read_bytes() == clip_bytes["plain"]
    assert result.info_path is not None and result.info_path.exists()
    assert result.title.startswith("Test page")  # the generic extractor may number html5 entries
    assert _clip_like(lib) == [result.path]


def test_default_archive_lives_in_data_dir(server, tmp_path):
    base, _ = server
    [result] = ingest.fetch([f"{base}/media/one.mp4"], to_dir=tmp_path / "lib", **FAST)
    assert result.status == "ok", result.error
    archive = tmp_path / "data" / "download-archive.txt"
    assert ingest.default_archive_path() == archive
    assert "generic one" in archive.read_text()


def test_playlist_limit(server, tmp_path):
    base, _ = server
    lib = tmp_path / "lib"
    results = ingest.fetch([f"{base}/two.html"], to_dir=lib, limit=1, archive=tmp_path / "a.txt", **FAST)
    assert [r.status for r in results] == ["ok"]
    assert len(_clip_like(lib)) == 1
    results = ingest.fetch([f"{base}/two.html"], to_dir=lib, archive=tmp_path / "a.txt", **FAST)
    assert sorted(r.status for r in results) == ["ok", "skipped"]
    assert len(_clip_like(lib)) == 2


def test_subtitles_are_saved(server, tmp_path):
    base, _ = server
    lib = tmp_path / "deep" / "lib"
    results = ingest.fetch([f"{base}/subs.html"], to_dir=lib, archive=tmp_path / "a.txt", **FAST)
    assert [r.status for r in results] == ["ok"], results
    [result] = results
    assert [p.name.rsplit(".", 2)[-2:] for p in result.subtitle_paths] == [["en", "vtt"]]
    assert result.subtitle_paths[0].read_bytes() == VTT


def test_subtitle_language_with_path_parts_is_dropped(server, tmp_path):
    base, _ = server
    lib = tmp_path / "deep" / "lib"
    results = ingest.fetch([f"{base}/evil-subs.html"], to_dir=lib, archive=tmp_path / "a.txt", **FAST)
    assert [r.status for r in results] == ["ok"], results
    assert results[0].subtitle_paths == []
    assert [p for p in _files(tmp_path) if "escape" in p.name or p.suffix == ".vtt"] == []
    assert all(p.resolve().is_relative_to(lib.resolve()) for p in _files(tmp_path / "deep"))


def test_cookies_file_is_sent_and_left_unchanged(server, tmp_path):
    base, hits = server
    cookies = tmp_path / "cookies.txt"
    text = "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tmine123\n"
    cookies.write_text(text)
    [result] = ingest.fetch([f"{base}/media/private.mp4"], to_dir=tmp_path / "lib", archive=tmp_path / "a.txt",
                            cookies=cookies, **FAST)
    assert result.status == "ok", result.error
    assert ("/media/private.mp4", "session=mine123") in hits["cookies"]
    assert cookies.read_text() == text


def test_progress_callback_reports_bytes(server, clip_bytes, tmp_path):
    base, _ = server
    calls = []
    [result] = ingest.fetch([f"{base}/media/two.mp4"], to_dir=tmp_path / "lib", archive=tmp_path / "a.txt",
                            progress=lambda *a: calls.append(a), **FAST)
    assert result.status == "ok"
    assert calls, "progress was never called"
    ident, done, total, _speed = calls[-1]
    assert ident == "two"
    assert done == total == len(clip_bytes["plain"])


# --- errors: plain kind + message, nothing left behind ---------------------------------------------


@pytest.mark.parametrize("url", ["file:///etc/passwd", "data:video/mp4;base64,AAAA", "ftp://127.0.0.1/a.mp4",
                                 "javascript:alert(1)", "127.0.0.1/clip.mp4", "http:///nohost"])
def test_refused_schemes(url, tmp_path):
    lib = tmp_path / "lib"
    [result] = ingest.fetch([url], to_dir=lib, archive=tmp_path / "a.txt", **FAST)
    assert result.status == "error"
    assert result.error["kind"] == "bad_url"
    assert "http" in result.error["message"]
    assert "Traceback" not in result.error["message"]
    _assert_nothing_left(lib)


@pytest.mark.parametrize("path, kinds", [
    ("/missing.mp4", {"not_found"}),
    ("/nothing.html", {"unsupported"}),
    ("/notes.txt", {"unsupported", "not_video"}),  # yt-dlp takes a non-HTML body for a direct file
    ("/media/fake.mp4", {"not_video"}),
    ("/file-src.html", {"bad_url"}),
    ("/separate.mpd", {"needs_ffmpeg"}),  # a page pointing at file:// is not followed
    ("/media/half.mp4", {"incomplete"}),
    ("/media/half-nolength.mp4", {"incomplete", "not_video"}),
])
def test_bad_downloads_give_plain_errors_and_leave_nothing(server, tmp_path, path, kinds):
    base, _ = server
    lib, archive = tmp_path / "lib", tmp_path / "a.txt"
    [result] = ingest.fetch([base + path], to_dir=lib, archive=archive, **FAST)
    assert result.status == "error"
    assert result.error["kind"] in kinds, result.error
    message = result.error["message"]
    assert message and "Traceback" not in message and "\n" not in message
    assert "please report this issue" not in message.lower()
    _assert_nothing_left(lib)
    assert not archive.exists() or archive.read_text().strip() == ""


def test_transfer_cut_short_is_retried_then_reported(server, tmp_path):
    base, hits = server
    lib = tmp_path / "lib"
    before = hits.get("/media/half.mp4", 0)
    [result] = ingest.fetch([f"{base}/media/half.mp4"], to_dir=lib, archive=tmp_path / "a.txt",
                            retries=1, socket_timeout_s=3.0)
    assert result.error["kind"] == "incomplete", result.error
    # one request to look at the URL, then the download and its single retry
    assert hits["/media/half.mp4"] - before == 3
    _assert_nothing_left(lib)


def test_unreachable_port_is_network_error_after_retries(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    lib = tmp_path / "lib"
    [result] = ingest.fetch([f"http://127.0.0.1:{port}/clip.mp4"], to_dir=lib, archive=tmp_path / "a.txt",
                            retries=1, socket_timeout_s=2.0)
    assert result.status == "error"
    assert result.error["kind"] == "network", result.error
    assert result.error["message"].startswith("Could not reach the site")
    _assert_nothing_left(lib)


def test_one_bad_url_does_not_stop_the_others(server, tmp_path):
    base, _ = server
    results = ingest.fetch(["file:///etc/passwd", f"{base}/missing.mp4", f"{base}/media/clip.mp4"],
                           to_dir=tmp_path / "lib", archive=tmp_path / "a.txt", **FAST)
    assert [r.status for r in results] == ["error", "error", "ok"]


# --- interruption ------------------------------------------------------------------------------------


def test_cancel_event_mid_download_leaves_no_clip(server, clip_bytes, tmp_path):
    base, _ = server
    lib = tmp_path / "lib"
    cancel = threading.Event()
    seen = []

    def progress(ident, done, total, speed):
        seen.append(done)
        cancel.set()  # cancel as soon as the first block arrived

    [result] = ingest.fetch([f"{base}/media/slow.mp4"], to_dir=lib, archive=tmp_path / "a.txt",
                            progress=progress, cancel=cancel, **FAST)
    assert seen and seen[0] < len(clip_bytes["plain"])  # cancelled while the transfer was in flight
    assert result.status == "error" and result.error["kind"] == "cancelled"
    assert _clip_like(lib) == []
    _assert_nothing_left(lib)


def test_keyboard_interrupt_mid_download_removes_partial_and_propagates(server, tmp_path):
    base, _ = server
    lib = tmp_path / "lib"

    def progress(ident, done, total, speed):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest.fetch([f"{base}/media/slow.mp4"], to_dir=lib, archive=tmp_path / "a.txt", progress=progress, **FAST)
    _assert_nothing_left(lib)


def test_killed_download_leaves_only_partial_names(server, clip_bytes, tmp_path):
    """A process killed mid-transfer cannot clean up: what it leaves must not pass for a clip."""
    base, _ = server
    lib = tmp_path / "lib"
    state = {}

    def progress(ident, done, total, speed):
        # snapshot the folder while the transfer is in flight, as a kill would leave it
        state.setdefault("files", _files(lib))
        state.setdefault("scanned", list(media.iter_clips([lib])))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest.fetch([f"{base}/media/slow.mp4"], to_dir=lib, archive=tmp_path / "a.txt", progress=progress, **FAST)
    in_flight = state["files"]
    assert state["scanned"] == []  # the library scanner sees no clip while the transfer is in flight
    assert any(p.name.endswith(".part") for p in in_flight), in_flight
    for p in in_flight:  # nothing in the library folder itself, not even the .info.json (it moves with the video)
        rel = p.relative_to(lib)
        assert len(rel.parts) > 1 and rel.parts[0] == ingest.PARTIAL_DIRNAME, rel
    assert any(p.name.endswith(".info.json") for p in in_flight), in_flight


# --- names and paths ----------------------------------------------------------------------------------


def test_file_names_are_sanitised_and_inside_folder(server, tmp_path):
    base, _ = server
    lib = tmp_path / "lib"
    [result] = ingest.fetch([f"{base}/media/control%1Bchars.mp4"], to_dir=lib, archive=tmp_path / "a.txt", **FAST)
    assert result.status == "ok", result.error
    name = result.path.name
    assert all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in name), name
    assert result.path.resolve().is_relative_to(lib.resolve())


def test_title_with_leading_dots_gives_a_visible_clip(server, tmp_path):
    """A title like "../../.secret" must not make a dot-file that the scan, the app and watch would skip."""
    base, _ = server
    lib = tmp_path / "lib"
    [result] = ingest.fetch([f"{base}/dot-title.html"], to_dir=lib, archive=tmp_path / "a.txt", **FAST)
    assert result.status == "ok", result.error
    assert not result.path.name.startswith("."), result.path.name
    assert result.path.parent == lib.resolve()
    assert result.info_path is not None and result.info_path.parent == lib.resolve()
    assert not result.info_path.name.startswith(".")
    assert list(media.iter_clips([lib])) == [result.path]  # the library scan finds it
    assert not (lib / ingest.PARTIAL_DIRNAME).exists()


@pytest.mark.parametrize("name, expected", [
    (".hidden-id.mp4", "hidden-id.mp4"), ("..-id.mp4", "clip-id.mp4"), (".._.._x-id.mp4", "_.._x-id.mp4"),
    (". x-id.info.json", "x-id.info.json"), ("ok-id.mp4", "ok-id.mp4"), (".mp4", "clip.mp4"),
])
def test_visible_file_name(name, expected, tmp_path):
    assert ingest.visible_file_name(str(tmp_path / name)) == str(tmp_path / expected)


def test_unsafe_temp_name_is_refused(tmp_path):
    assert not ingest.names.is_inside(tmp_path / ".." / "x.mp4", tmp_path)
    assert ingest.names.is_inside(tmp_path / "a" / "x.mp4", tmp_path)


# --- error mapping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, kind", [
    ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access to this video", "private"),
    ("ERROR: [youtube] abc: The uploader has not made this video available in your country", "geo_blocked"),
    ("ERROR: Unable to download webpage: HTTP Error 429: Too Many Requests", "rate_limited"),
    ("ERROR: Unsupported URL: https://example.com/", "unsupported"),
    ("ERROR: [generic] Unable to download webpage: HTTP Error 404: Not Found", "not_found"),
    ("ERROR: [youtube] x: Requested format is not available. Use --list-formats for a list of available formats",
     "no_formats"),
    ("ERROR: You have requested merging of multiple formats but ffmpeg is not installed", "needs_ffmpeg"),
    ("ERROR: Unable to download webpage: <urlopen error [Errno 111] Connection refused>", "network"),
    ("ERROR: Unable to download webpage: The read operation timed out", "timeout"),
    ("something nobody expected", "download"),
])
def test_classify_error_message_text(text, kind):
    from yt_dlp.utils import DownloadError

    err = ingest.classify_error(DownloadError(text))
    assert err.kind == kind
    assert err.message.startswith(ingest.KIND_TEXT[kind])
    assert not err.message.startswith("ERROR")
    assert "--list-formats" not in err.message  # yt-dlp's own flags mean nothing to a byteme user


def test_classify_error_exception_types():
    from yt_dlp.networking.exceptions import HTTPError, TransportError
    from yt_dlp.utils import DownloadError, ExtractorError, GeoRestrictedError, UnsupportedError

    class _Resp:  # minimal stand-in for a networking Response
        status, reason, headers, url = 403, "Forbidden", {}, "http://127.0.0.1/x"

        def close(self):
            pass

    cases = [
        (UnsupportedError("http://127.0.0.1/x"), "unsupported"),
        (GeoRestrictedError("blocked here"), "geo_blocked"),
        (TransportError("conn", cause=ConnectionRefusedError(111, "Connection refused")), "network"),
        (HTTPError(_Resp()), "forbidden"),
    ]
    for exc, kind in cases:
        try:
            raise ExtractorError("wrapped", cause=exc, expected=True)
        except ExtractorError as wrapped:
            import sys
            err = ingest.classify_error(DownloadError("ERROR: wrapped", sys.exc_info()))
        assert err.kind == kind, (exc, err.kind)


# --- read_engagement ---------------------------------------------------------------------------------


def test_read_engagement_good_file(tmp_path):
    path = tmp_path / "x.info.json"
    path.write_text(json.dumps({
        "view_count": 1234, "like_count": 56.0, "comment_count": 7, "repost_count": True,
        "uploader": "Ann", "upload_date": "20240131", "duration": 14.5, "title": "T", "description": "D",
        "tags": ["a", 3, "b"]}))
    got = sidecars.read_engagement(path)
    assert got["error"] is None
    assert (got["view_count"], got["like_count"], got["comment_count"]) == (1234, 56, 7)
    assert got["repost_count"] is None  # a bool is not a count
    assert (got["uploader"], got["upload_date"], got["duration"]) == ("Ann", "20240131", 14.5)
    assert (got["title"], got["description"], got["tags"]) == ("T", "D", ["a", "b"])


@pytest.mark.parametrize("content, kind", [
    (b"{not json", "malformed"),
    (b"[1, 2, 3]", "malformed"),
    (b"\xff\xfe\x00garbage", "malformed"),
    (b"[" * 100000 + b"]" * 100000, "malformed"),
    (None, "not_found"),
])
def test_read_engagement_tolerates_bad_files(tmp_path, content, kind):
    path = tmp_path / "bad.info.json"
    if content is not None:
        path.write_bytes(content)
    got = sidecars.read_engagement(path)
    assert got["error"]["kind"] == kind
    assert got["error"]["message"]
    assert got["view_count"] is None and got["tags"] == []


def test_read_engagement_wrong_types_are_dropped(tmp_path):
    path = tmp_path / "w.info.json"
    path.write_text(json.dumps({"view_count": "many", "like_count": -3, "upload_date": "yesterday",
                                "duration": "long", "tags": "x", "title": 5}))
    got = sidecars.read_engagement(path)
    assert got["error"] is None
    assert all(got[k] is None for k in ("view_count", "like_count", "upload_date", "duration", "title"))
    assert got["tags"] == []


def test_fetched_info_json_reads_back(server, tmp_path):
    base, _ = server
    [result] = ingest.fetch([f"{base}/media/clip.mp4"], to_dir=tmp_path / "lib", archive=tmp_path / "a.txt", **FAST)
    got = sidecars.read_engagement(result.info_path)
    assert got["error"] is None
    assert got["title"] == "clip"


# --- CLI -----------------------------------------------------------------------------------------------


def _parse(argv):
    parser = argparse.ArgumentParser(prog="byteme fetch")
    fetch_command.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_exit_codes_and_lines(server, tmp_path, capsys, monkeypatch):
    base, _ = server
    monkeypatch.setattr(ingest, "DEFAULT_SOCKET_TIMEOUT_S", 3.0)
    args = _parse([f"{base}/media/clip.mp4", "--to", str(tmp_path / "lib"), "--retries", "0"])
    assert fetch_command.run(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok ")
    args = _parse([f"{base}/media/clip.mp4", "file:///etc/passwd", "--to", str(tmp_path / "lib"), "--retries", "0"])
    assert fetch_command.run(args) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("skipped ") and out[1].startswith("error ")
    assert "[bad_url]" in out[1]


def test_cli_usage_errors():
    with pytest.raises(SystemExit) as exc:
        _parse(["http://127.0.0.1/x", "--limit", "0"])
    assert exc.value.code == 2


def test_cli_missing_cookies_file_is_usage_error(tmp_path, capsys):
    args = _parse(["http://127.0.0.1:1/x", "--to", str(tmp_path), "--cookies", str(tmp_path / "nope.txt")])
    assert fetch_command.run(args) == 2
    assert "[cookies]" in capsys.readouterr().err


def test_result_lines_escape_control_characters():
    result = ingest.FetchResult(url="http://127.0.0.1/x", status="ok", path=Path("/lib/a.mp4"),
                                info_path=None, subtitle_paths=[], title="evil\x1b[31mred\x07\u202etxt.exe[b]x[/b]",
                                error=None)
    line = fetch_command.format_result_line(result)
    assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line
    assert "\\x1b[31m" in line and "\\x07" in line and "\\u202e" in line
    assert "[b]x[/b]" in line  # plain print: markup is shown as text


def test_fetch_score_end_to_end_keeps_engagement_in_the_store(server, tmp_path, capsys, monkeypatch):
    """`byteme fetch URL --score`: the clip lands, is scored through the store, and its counts are kept."""
    from engine import cli
    from engine.store import Store

    base, _ = server
    monkeypatch.setattr(ingest, "DEFAULT_SOCKET_TIMEOUT_S", 3.0)
    store_path = tmp_path / "store.sqlite3"
    code = cli.main(["fetch", f"{base}/media/clip.mp4", "--to", str(tmp_path / "lib"), "--retries", "0", "--score",
                     "--store", str(store_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    score_lines = [line for line in out.splitlines() if line.startswith("score ")]
    assert len(score_lines) == 1 and "overall" in score_lines[0], out
    store = Store(store_path)
    [result] = store.latest_results()
    assert result.status == "ok" and result.scores.overall is not None
    engagement = store.engagement(Path(result.path))
    store.close()
    assert engagement is not None and engagement["error"] is None

