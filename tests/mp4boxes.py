"""An independent reader of the ISO/IEC 14496-12 (mp4/mov) box tree, for tests that check what
``engine.synth.write_clip`` stored without going through FFmpeg."""
from __future__ import annotations

import math
import os
import struct
from pathlib import Path


def read_tkhd_rotation(path: str | os.PathLike) -> int | None:
    """Clockwise display rotation of the first video track, read straight from the mp4/mov ``tkhd`` matrix.

    An independent check of what ``write_clip`` stores, without FFmpeg: walks the ISO/IEC 14496-12 box tree
    ``moov/trak/tkhd`` and reads the 3x3 matrix {a, b, u, c, d, v, x, y, w} (16.16 fixed point for a-d). The
    angle is ``atan2(b, a)``: a phone's portrait recording has a=0, b=1, c=-1, d=0, i.e. 90 degrees.

    Returns
    -------
    rotation_deg : int in {0, 90, 180, 270} or None
        None when the file has no video track (``vmhd``) with a ``tkhd`` box.
    """
    data = Path(path).read_bytes()

    def boxes(buf: bytes, start: int, end: int):
        i = start
        while i + 8 <= end:
            size, kind = struct.unpack(">I4s", buf[i : i + 8])
            header = 8
            if size == 1:
                size = struct.unpack(">Q", buf[i + 8 : i + 16])[0]
                header = 16
            elif size == 0:
                size = end - i
            if size < header:
                return
            yield kind, i + header, i + size
            i += size

    for kind, s, e in boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for tk, ts, te in boxes(data, s, e):
            if tk != b"trak":
                continue
            tkhd = None
            is_video = False
            stack = [(ts, te)]
            while stack:
                a, b = stack.pop()
                for k, cs, ce in boxes(data, a, b):
                    if k == b"tkhd":
                        tkhd = (cs, ce)
                    elif k == b"vmhd":
                        is_video = True
                    elif k in (b"mdia", b"minf"):
                        stack.append((cs, ce))
            if not is_video or tkhd is None:
                continue
            cs, _ = tkhd
            version = data[cs]
            # version 0: 4+4+4+4+4 (flags, ctime, mtime, track_id, reserved) + 4 duration; v1 uses 8-byte times
            off = cs + (4 + 8 + 8 + 4 + 4 + 8 if version == 1 else 4 + 4 + 4 + 4 + 4 + 4)
            off += 8 + 2 + 2 + 2 + 2  # reserved[2], layer, alternate_group, volume, reserved
            m = struct.unpack(">9i", data[off : off + 36])
            a_, b_ = m[0] / 65536.0, m[1] / 65536.0
            return int(round(math.degrees(math.atan2(b_, a_)))) % 360
    return None
