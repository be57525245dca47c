"""Audio extractors: the shared analysis signal and loudness (``analysis``, with ``levels``: BS.1770 and clipping),
speech/music, noise, rhythm and timbre (``content``)."""
