"""Originality signals: the clip's frame and audio fingerprints and its corner overlays, written into ``fv.events``
for the library's originality index (``engine.originality``) and the reports; they set no scored metric."""
