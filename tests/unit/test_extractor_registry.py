"""The extractor registry (issue 17): declared inputs and outputs give the run order, a duplicate name or a cycle
raises, and what an extractor writes while it analyses a clip is what it declares."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import pipeline
from engine.config import load_config
from engine.extractors import EventSpec, Extractor, RegistryError, register, registered
from engine.extractors.base import TEXT_PREFIX, ordered, writes
from engine.features import FeatureVector, MetricSpec


def _ext(name: str, modality: str = "audio", *, metrics=(), events=(), needs=(), after=()):
    """A throwaway extractor class (not registered)."""
    return type(f"X_{name}", (Extractor,), {
        "name": name, "modality": modality, "needs": tuple(needs), "after": tuple(after),
        "METRICS": tuple(MetricSpec(k, k, "", 0, 1, None) for k in metrics),
        "EVENTS": tuple(EventSpec(k, "[t_s]") for k in events),
        "finish": lambda self, ctx, fv: None,
    })


def test_register_raises_on_a_duplicate_name():
    taken = registered()[0].name
    with pytest.raises(RegistryError, match=taken):
        register(_ext(taken))
    assert sum(c.name == taken for c in registered()) == 1


def test_a_cycle_raises_and_names_the_extractors():
    a = _ext("a", events=["audio.a_s"], needs=["audio.b_s"])
    b = _ext("b", events=["audio.b_s"], needs=["audio.a_s"])
    c = _ext("c", events=["audio.c_s"])
    with pytest.raises(RegistryError, match="a, b"):
        ordered([a, b, c])


def test_a_need_nobody_writes_raises():
    with pytest.raises(RegistryError, match="audio.nowhere_s"):
        ordered([_ext("a", needs=["audio.nowhere_s"])])


def test_two_writers_of_one_key_raise():
    with pytest.raises(RegistryError, match="audio.x_s"):
        ordered([_ext("a", events=["audio.x_s"]), _ext("b", events=["audio.x_s"])])


def test_order_follows_needs_then_family_then_name():
    late = _ext("a_reader", "visual", needs=["audio.m"])
    writer = _ext("z_writer", "audio", metrics=["audio.m"])
    free = [_ext("b", "text"), _ext("a", "text"), _ext("c", "visual")]
    names = [c.name for c in ordered([late, writer, *free])]
    # c (visual) first; a_reader waits for z_writer (audio); the text ones go by name.
    assert names == ["c", "z_writer", "a_reader", "a", "b"]
    assert names == [c.name for c in ordered(list(reversed([late, writer, *free])))]


def test_the_registry_order_honours_every_declared_need():
    order = registered()
    assert [c.name for c in order] == [c.name for c in registered()]
    pos = {c: i for i, c in enumerate(order)}
    writers = {}
    for cls in order:
        for key in writes(cls):
            writers.setdefault(key, []).append(cls)
    for cls in order:
        for key in (*cls.needs, *cls.after):
            assert all(pos[w] < pos[cls] for w in writers[key] if w is not cls), (cls.name, key)
    names = [c.name for c in order]
    assert names.index("cuts_on_beats") > max(names.index("visual_temporal"), names.index("rhythm"))
    assert names.index("text_summary") > max(names.index(n) for n in ("text_sources", "onscreen_text", "transcript"))
    assert names.index("timbre") > max(names.index(n) for n in ("speech_music", "noise", "rhythm"))


class _Recorder(dict):
    """A dict that notes which extractor (``owner[0]``) wrote each key."""

    def __init__(self, owner: list, log: dict, prefix: str = ""):
        super().__init__()
        self.owner, self.log, self.prefix = owner, log, prefix

    def _note(self, key):
        if self.owner[0] is not None:
            self.log.setdefault(self.owner[0], set()).add(self.prefix + key)

    def __setitem__(self, key, value):
        self._note(key)
        super().__setitem__(key, value)

    def setdefault(self, key, default=None):
        self._note(key)
        return super().setdefault(key, default)

    def update(self, *args, **kw):
        for key in dict(*args, **kw):
            self._note(key)
        super().update(*args, **kw)


@pytest.fixture(scope="module")
def written(clips, tmp_path_factory):
    """{extractor class: keys it wrote (metrics, events, fv.text.<entry>)} over clips that reach most paths:
    music with cuts and on-screen text, a caption with spammy hashtags and an unreadable subtitle sidecar; a clip
    of digital silence (the silent-track finding); an audio-only clip."""
    folder = tmp_path_factory.mktemp("registry")
    busy = Path(clips("registry_busy", duration_s=3.0, audio="music", shots=((1.0, 0), (1.0, 1), (1.0, 2)),
                      text=((0.2, 2.8, "THREE TIPS FOR YOU"),)))
    clip = folder / "busy.mp4"
    clip.write_bytes(busy.read_bytes())
    clip.with_suffix(".txt").write_text("Do you want better clips? Follow for 3 tips #fyp #viral #fyp #cooking")
    clip.with_suffix(".srt").write_bytes(b"\xff\xfe garbage \x00\x01")
    paths = [clip, clips("registry_silent", audio="silence"), clips("registry_audio", suffix=".m4a", video=None)]

    owner: list = [None]
    log: dict = {}

    class RecordingFV(FeatureVector):
        def __init__(self):
            super().__init__()
            self.events = _Recorder(owner, log)
            self.text = _Recorder(owner, log, TEXT_PREFIX)

        def set(self, key, value):
            if owner[0] is not None:
                log.setdefault(owner[0], set()).add(key)
            super().set(key, value)

    mp = pytest.MonkeyPatch()
    mp.setattr(pipeline, "FeatureVector", RecordingFV)
    mp.setattr(pipeline, "AUDIO_BESIDE_VIDEO", False)  # one fv: every finish() writes into the recorder
    for cls in registered():
        def finish(self, ctx, fv, _orig=cls.finish, _cls=cls):
            owner[0] = _cls
            try:
                return _orig(self, ctx, fv)
            finally:
                owner[0] = None
        mp.setattr(cls, "finish", finish)
    try:
        cfg = load_config()
        for p in paths:
            pipeline.extract_features(p, cfg, options={})
    finally:
        mp.undo()
    return log


def test_every_key_an_extractor_writes_is_declared_by_it(written):
    assert written, "no extractor wrote anything"
    undeclared = {cls.name: sorted(keys - writes(cls)) for cls, keys in written.items() if keys - writes(cls)}
    assert not undeclared
    events = set().union(*(k for k in written.values()))
    # The clips reach the shared lists and the events other extractors read.
    assert {"findings", "visual.cuts_s", "audio.beats_s", "hash.frames", "text.caption"} <= events
