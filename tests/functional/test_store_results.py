"""Results belong to a file, not only to its bytes: two copies of one video with different caption sidecars (an
agency posting one edit to several accounts) each keep their own result in the store, in ``byteme results``, in
the job queue and in the terminal app's backend; a store of the earlier layout (results keyed by content hash
alone) is migrated when it is opened."""
from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from engine import cli
from engine.build import results_build
from engine.result import ClipResult
from engine.store import Store, path_key, result_to_json

#: Caption of copy "a": no hashtags, no call to action; 8 characters.
CAPTION_A = "Hi there"
#: Caption of copy "b": two hashtags and a call to action ("Follow").
CAPTION_B = "Three tips for brighter clips. Follow for more! #lighting #tips"
#: What each caption measures (the text extractor's own definitions: hashtags counted, CTA 1/0); caption_chars of
#: "a" is the whole caption (it has no hashtags to strip).
EXPECTED = {
    "a.mp4": {"text.hashtag_count": 0, "text.call_to_action": 0.0, "text.caption_chars": len(CAPTION_A)},
    "b.mp4": {"text.hashtag_count": 2, "text.call_to_action": 1.0},
}
#: Seconds the backend test waits for its two jobs at most (they take a few seconds on 2 cores).
JOBS_DEADLINE_S = 180.0


@pytest.fixture(scope="module")
def copies(tmp_path_factory, good_clip) -> Path:
    """A folder holding two byte-identical copies of ``good_clip``, a.mp4 and b.mp4, with different captions."""
    folder = tmp_path_factory.mktemp("copies")
    for name, caption in (("a", CAPTION_A), ("b", CAPTION_B)):
        shutil.copyfile(good_clip, folder / f"{name}.mp4")
        (folder / f"{name}.txt").write_text(caption, encoding="utf-8")
    assert (folder / "a.mp4").read_bytes() == (folder / "b.mp4").read_bytes()
    return folder


@pytest.fixture()
def store_env(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("BYTEME_STORE", raising=False)
    return tmp_path / "data" / "byteme.sqlite3"


def assert_own_caption(metrics_by_name: dict) -> None:
    """Each copy carries the measures of its own caption (not the last scored copy's)."""
    assert sorted(metrics_by_name) == ["a.mp4", "b.mp4"]
    for name, expected in EXPECTED.items():
        got = metrics_by_name[name]
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=1e-9), (name, key, got[key])


def json_lines(out: str) -> dict:
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {Path(r["path"]).name: r for r in rows}


@pytest.mark.parametrize("extra", [[], ["--workers", "1"]], ids=["in-process", "workers-1"])
def test_score_and_results_keep_each_copys_caption(copies, store_env, capsys, extra):
    code = cli.main(["score", str(copies), "--json", "--no-ocr", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    scored = json_lines(out)
    assert all(r["status"] == "ok" for r in scored.values())
    assert_own_caption({name: r["metrics"] for name, r in scored.items()})

    store = Store(store_env)
    try:
        latest = {Path(r.path).name: r for r in store.latest_results()}
        assert {n: r.path for n, r in latest.items()} == {n: path_key(copies / n) for n in ("a.mp4", "b.mp4")}
        assert latest["a.mp4"].content_hash == latest["b.mp4"].content_hash  # one video, two results
        assert_own_caption({n: r.features.values for n, r in latest.items()})
        rows = store.conn.execute("SELECT path FROM results ORDER BY path").fetchall()
        assert [Path(p).name for (p,) in rows] == ["a.mp4", "b.mp4"]
    finally:
        store.close()

    code = cli.main(["results", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    listed = json_lines(out)
    assert_own_caption({name: r["metrics"] for name, r in listed.items()})
    assert listed["a.mp4"]["scores"] == scored["a.mp4"]["scores"]
    assert listed["b.mp4"]["scores"] == scored["b.mp4"]["scores"]


def test_tui_backend_and_job_queue_keep_each_copys_caption(copies, tmp_path, monkeypatch):
    pytest.importorskip("engine.jobs")
    from engine.service import LibraryService

    monkeypatch.setenv("BYTEME_DATA_DIR", str(tmp_path / "data"))
    db = tmp_path / "store.sqlite3"
    keys = {name: path_key(copies / name) for name in ("a.mp4", "b.mp4")}
    backend = LibraryService(copies, store_path=db, workers=1, executor="thread")
    try:
        state = backend.open()
        assert {r.status for r in state.rows.values()} == {"new"}
        assert backend.enqueue(list(keys.values())) == 2
        deadline = time.monotonic() + JOBS_DEADLINE_S
        while True:
            state = backend.poll()
            if all(r.status in ("done", "error", "failed") for r in state.rows.values()):
                break
            assert time.monotonic() < deadline, {k: r.status for k, r in state.rows.items()}
            time.sleep(0.1)
        assert {state.rows[k].status for k in keys.values()} == {"done"}
        # read back through the finished jobs (poll -> _reload)
        assert_own_caption({n: backend.result(k).features.values for n, k in keys.items()})
        # the job queue's result(job_id) of each copy's job
        jobs = {Path(j.path).name: j for j in backend.queue.jobs()}
        assert_own_caption({n: backend.queue.result(jobs[n].id).features.values for n in keys})
    finally:
        backend.shutdown(cancel_jobs=True)

    reopened = LibraryService(copies, store_path=db, workers=1, executor="thread")
    try:
        state = reopened.open()  # read through the folder scan (open -> _read_results)
        assert {state.rows[k].status for k in keys.values()} == {"done"}
        assert_own_caption({n: reopened.result(k).features.values for n, k in keys.items()})
    finally:
        reopened.shutdown(cancel_jobs=True)


# -- migration of a store written before results carried the path ---------------------------------------------

OLD_CLIPS = """CREATE TABLE clips (path TEXT PRIMARY KEY, content_hash TEXT, size_bytes INTEGER, mtime_ns INTEGER,
    last_error TEXT, engagement TEXT, updated_at REAL)"""
OLD_RESULTS = """CREATE TABLE results (content_hash TEXT NOT NULL, engine_version TEXT NOT NULL, model TEXT NOT NULL,
    config_hash TEXT NOT NULL, result TEXT NOT NULL, created_at REAL,
    PRIMARY KEY (content_hash, engine_version, model, config_hash))"""
SHARED_HASH, OTHER_HASH, ORPHAN_HASH = "0" * 32, "1" * 32, "2" * 32
MODEL, CONFIG = "default@1", "cfg0"


def write_old_store(db: Path, folder: Path) -> dict:
    """The earlier layout by hand: three clips (two copies share a hash), one result row for the shared hash and
    one for a hash no clip has. Returns the clip paths' keys."""
    keys = {n: path_key(folder / n) for n in ("copy1.mp4", "copy2.mp4", "other.mp4")}
    old = ClipResult(path=str(folder / "copy1.mp4"), status="error", content_hash=SHARED_HASH,
                     error={"kind": "internal", "message": "kept from the old store"})
    conn = sqlite3.connect(db)
    try:
        conn.execute(OLD_CLIPS)
        conn.execute(OLD_RESULTS)
        conn.executemany("INSERT INTO clips(path, content_hash) VALUES (?, ?)",
                         [(keys["copy1.mp4"], SHARED_HASH), (keys["copy2.mp4"], SHARED_HASH),
                          (keys["other.mp4"], OTHER_HASH)])
        conn.executemany("INSERT INTO results VALUES (?,?,?,?,?,?)",
                         [(SHARED_HASH, results_build(), MODEL, CONFIG, result_to_json(old), 123.5),
                          (ORPHAN_HASH, results_build(), MODEL, CONFIG, result_to_json(old), 99.0)])
        conn.commit()
    finally:
        conn.close()
    return keys


def dump(db: Path) -> tuple[list, list]:
    conn = sqlite3.connect(db)
    try:
        return (conn.execute("SELECT * FROM results ORDER BY path").fetchall(),
                conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall())
    finally:
        conn.close()


def test_the_build_digests_follow_the_sources(tmp_path, monkeypatch):
    """Features are keyed by the extractors' source, verdicts by the whole engine's: a scoring change judges again
    from stored features, an extractor change measures again."""
    from engine import build

    (tmp_path / "extractors").mkdir()
    (tmp_path / "extractors" / "noise.py").write_text("FLOOR = 10\n")
    (tmp_path / "scorer.py").write_text("WEIGHT = 3\n")
    monkeypatch.setattr(build, "ENGINE_DIR", tmp_path)
    features, results = build.source_digest(build.FEATURE_SOURCES), build.source_digest(build.RESULT_SOURCES)
    (tmp_path / "scorer.py").write_text("WEIGHT = 5\n")
    assert build.source_digest(build.FEATURE_SOURCES) == features
    assert build.source_digest(build.RESULT_SOURCES) != results
    (tmp_path / "extractors" / "noise.py").write_text("FLOOR = 12\n")
    assert build.source_digest(build.FEATURE_SOURCES) != features
    # a retrained shipped model: its reading measures again, a scoring model judges again
    (tmp_path / "models").mkdir()
    for name, sources in (("appearance.json", build.FEATURE_SOURCES), ("picture_quality.json", build.RESULT_SOURCES)):
        before = build.source_digest(sources)
        (tmp_path / "models" / name).write_text('{"coef": [0.5]}')
        assert build.source_digest(sources) != before, name


def test_features_and_verdicts_of_another_build_are_not_served(tmp_path, monkeypatch):
    """What an older BYTEME stored (the release version stayed 0.1.0 while metrics and scoring changed) is measured
    and judged again, not served: a store opened by another build finds neither."""
    from engine import store as store_module
    from engine.features import FeatureVector
    from engine.media import MediaInfo

    clip = tmp_path / "clip.mp4"
    st = Store(tmp_path / "store.sqlite3")
    try:
        media = MediaInfo(str(clip), "mp4", 10, 1.0, None, True, False)
        st.put_features("h1", media, FeatureVector(values={"audio.snr_db": 14.0}))
        st.put_result(ClipResult(path=str(clip), status="error", content_hash="h1",
                                 error={"kind": "internal", "message": "older verdict"}), MODEL, CONFIG)
        assert st.get_features("h1") is not None and st.get_result("h1", MODEL, CONFIG, path=clip) is not None
        assert set(st.results_for({path_key(clip): "h1"})) == {path_key(clip)}
        monkeypatch.setattr(store_module, "features_build", lambda: "0.1.0+newer-extractors")
        monkeypatch.setattr(store_module, "results_build", lambda: "0.1.0+newer-engine")
        assert st.get_features("h1") is None
        assert st.get_result("h1", MODEL, CONFIG, path=clip) is None
        assert st.results_for({path_key(clip): "h1"}) == {}
    finally:
        st.close()


def test_a_new_build_replaces_what_an_older_one_stored_for_the_same_clip(tmp_path, monkeypatch):
    """Writing a clip's features or verdict under a new build drops that clip's rows of other builds (nothing reads
    them again; kept, every upgrade added a copy of every clip analysed). Other clips' rows, and this build's rows
    with other options or another model, stay."""
    from engine import store as store_module
    from engine.features import FeatureVector
    from engine.media import MediaInfo

    clip, other = tmp_path / "clip.mp4", tmp_path / "other.mp4"
    st = Store(tmp_path / "store.sqlite3")
    try:
        media = MediaInfo(str(clip), "mp4", 10, 1.0, None, True, False)
        monkeypatch.setattr(store_module, "features_build", lambda: "0.1.0+older-extractors")
        monkeypatch.setattr(store_module, "results_build", lambda: "0.1.0+older-engine")
        for chash, path in (("h1", clip), ("h2", other)):
            st.put_features(chash, media, FeatureVector(values={"audio.snr_db": 14.0}))
            st.put_result(ClipResult(path=str(path), status="ok", content_hash=chash), MODEL, CONFIG)
        monkeypatch.setattr(store_module, "features_build", lambda: "0.1.0+newer-extractors")
        monkeypatch.setattr(store_module, "results_build", lambda: "0.1.0+newer-engine")
        st.put_features("h1", media, FeatureVector(values={"audio.snr_db": 20.0}))
        st.put_features("h1", media, FeatureVector(values={"audio.snr_db": 20.0}), options={"ocr": False})
        st.put_result(ClipResult(path=str(clip), status="ok", content_hash="h1"), MODEL, CONFIG)
        st.put_result(ClipResult(path=str(clip), status="ok", content_hash="h1"), "another-model@1", CONFIG)
        features = sorted(st.conn.execute("SELECT content_hash, engine_version FROM features").fetchall())
        assert [(h, v.split("+")[1][:5]) for h, v in features] == [("h1", "newer"), ("h1", "newer"), ("h2", "older")]
        results = sorted(st.conn.execute("SELECT content_hash, engine_version, model FROM results").fetchall())
        assert results == [("h1", "0.1.0+newer-engine", "another-model@1"), ("h1", "0.1.0+newer-engine", MODEL),
                           ("h2", "0.1.0+older-engine", MODEL)]
        assert st.get_features("h1", {"ocr": False})[1].values["audio.snr_db"] == 20.0
    finally:
        st.close()


def test_old_store_is_migrated_once_for_every_copy(tmp_path):
    db = tmp_path / "old.sqlite3"
    keys = write_old_store(db, tmp_path)
    store = Store(db)
    try:
        columns = [r[1] for r in store.conn.execute("PRAGMA table_info(results)")]
        assert columns == ["content_hash", "path", "engine_version", "model", "config_hash", "result", "created_at"]
        rows = store.conn.execute("SELECT content_hash, path, engine_version, model, config_hash, created_at"
                                  " FROM results ORDER BY path").fetchall()
        assert rows == [(SHARED_HASH, keys["copy1.mp4"], results_build(), MODEL, CONFIG, 123.5),
                        (SHARED_HASH, keys["copy2.mp4"], results_build(), MODEL, CONFIG, 123.5)]
        latest = store.latest_results()
        assert [r.path for r in latest] == [keys["copy1.mp4"], keys["copy2.mp4"]]
        assert all(r.error["message"] == "kept from the old store" for r in latest)
        for name in ("copy1.mp4", "copy2.mp4"):
            got = store.get_result(SHARED_HASH, MODEL, CONFIG, path=keys[name])
            assert got is not None and got.error["message"] == "kept from the old store"
        assert store.get_result(SHARED_HASH, MODEL, CONFIG, path=keys["other.mp4"]) is None
    finally:
        store.close()
    before = dump(db)
    assert not any(name.startswith("results_") for _, name, _ in before[1])
    again = Store(db)  # opening again changes nothing
    assert again.migrated_results == 0
    again.close()
    assert dump(db) == before


def test_old_store_keeps_the_result_of_a_finished_job_whose_file_changed_since(tmp_path):
    """other.mp4 was scored as SHARED_HASH by a job, then edited (its clip row now says OTHER_HASH): the job
    queue's result of that job still finds its row after the migration."""
    from engine.jobs.queue import JobQueue, ensure_schema
    from engine.store import connect

    db = tmp_path / "old.sqlite3"
    keys = write_old_store(db, tmp_path)
    conn = connect(db)
    try:
        ensure_schema(conn)
        conn.execute("INSERT INTO jobs(path, state, position, config_hash, content_hash, result_model, created_at,"
                     " updated_at) VALUES (?, 'done', 1, ?, ?, ?, 0, 0)",
                     (keys["other.mp4"], CONFIG, SHARED_HASH, MODEL))
    finally:
        conn.close()
    queue = JobQueue(db)
    try:
        assert queue.store.migrated_results == 3  # copy1, copy2 and the job's file
        [job] = queue.jobs()
        got = queue.result(job.id)
        assert got is not None and got.error["message"] == "kept from the old store"
        # the listing shows current files only: other.mp4's bytes changed, so it has no result there
        assert [r.path for r in queue.store.latest_results()] == [keys["copy1.mp4"], keys["copy2.mp4"]]
    finally:
        queue.close()


def test_old_store_opened_by_several_processes_at_once_migrates_once(tmp_path):
    """Threads stand in for processes: each opens its own connection, and all start together. Without the layout
    re-checked under the write lock, the second would try to migrate a table that is already new."""
    db = tmp_path / "old.sqlite3"
    keys = write_old_store(db, tmp_path)
    n = 4
    start = threading.Barrier(n)
    errors: list[BaseException] = []
    migrated: list[int] = []

    def open_store():
        try:
            start.wait()
            store = Store(db)
            migrated.append(store.migrated_results)
            store.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(migrated) == [0, 0, 0, 2]  # one of them moved the old row to both copies; the others found it done
    rows, _ = dump(db)
    assert [(r[0], r[1]) for r in rows] == [(SHARED_HASH, keys["copy1.mp4"]), (SHARED_HASH, keys["copy2.mp4"])]
