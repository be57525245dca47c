"""Prototype, measured: decode in a producer thread (PyAV releases the GIL while FFmpeg decodes) while the extractors
run in the caller, so decoding and analysis overlap on 2 cores. Not used by the engine (see docs/BENCHMARKS.md).

    .venv/bin/python scripts/bench_decode_overlap.py     # 60 s 1080x1920 clip of scripts/bench.py (must exist)

Prints wall and CPU time of: decode only, the analysis with ``engine.media.decode``, and the analysis with this
decode; then checks that every metric is identical. Simplified against ``engine.media.decode``: no cancel,
progress, max_duration_s or decode-error accounting.
"""
import queue, threading, sys, time, resource
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "scripts"))
import numpy as np
import engine.media as M
import engine.pipeline as P

def decode_overlap(path, info, *, on_frame=None, short_side_px=M.ANALYSIS_SHORT_SIDE_PX, audio_rate_hz=M.AUDIO_RATE_HZ,
                   max_duration_s=None, progress=None, cancel=None, ahead=8):
    import av
    from av.video.reformatter import VideoReformatter
    path = Path(path)
    container = M._open(path)
    stats = M.DecodeStats()
    audio_parts = []
    peak = [0.0]
    vstream = container.streams.video[0] if info.has_video and container.streams.video else None
    astream = container.streams.audio[0] if info.has_audio and container.streams.audio else None
    streams = [s for s in (vstream, astream) if s is not None]
    for s in streams:
        s.thread_type = "AUTO"
    size = M.analysis_size(info.stored_width, info.stored_height, short_side_px) if vstream else (0, 0)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=audio_rate_hz) if astream else None
    q = queue.Queue(maxsize=ahead)
    stop = threading.Event()
    SENTINEL = object()
    def produce():
        try:
            for packet in container.demux(*streams):
                if stop.is_set():
                    break
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue
                for frame in frames:
                    if packet.stream is vstream:
                        while not stop.is_set():
                            try:
                                q.put(frame, timeout=0.1); break
                            except queue.Full:
                                pass
                    else:
                        arr = frame.to_ndarray()
                        if arr.size:
                            peak[0] = max(peak[0], float(np.max(np.abs(arr))))
                        for out in resampler.resample(frame):
                            audio_parts.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
            if resampler is not None:
                for out in resampler.resample(None):
                    audio_parts.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        finally:
            q.put(SENTINEL)
    th = threading.Thread(target=produce, daemon=True)
    th.start()
    scaler = VideoReformatter()
    t0v = None
    try:
        while True:
            frame = q.get()
            if frame is SENTINEL:
                break
            t = frame.time if frame.time is not None else stats.frames / (info.fps or 30.0)
            if t0v is None:
                t0v = t
            t -= t0v
            vf = M.VideoFrame(stats.frames, t, frame, info.rotation_deg, size, scaler)
            stats.frames += 1
            stats.video_time_s = t
            stats.frame_times_s.append(t)
            if on_frame is not None:
                on_frame(vf)
            vf.release()
    finally:
        stop.set()
        while th.is_alive():
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
        th.join()
        container.close()
    samples = np.concatenate(audio_parts) if audio_parts else np.zeros(0, np.float32)
    audio = M.DecodedAudio(samples, audio_rate_hz, info.audio_channels, peak[0]) if astream is not None else None
    return stats, audio

if __name__ == "__main__":
    from bench import decode_only
    from engine.config import load_config
    p = ROOT / '.cache/bench/bench_1080x1920_60s_30fps_8000k.mp4'
    cfg = load_config(use_user_file=False)
    real = P.decode
    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
    P.extract_features(p, cfg, options={"ocr": False})
    for _ in range(2):
        for label, fn in (("decode only", None), ("analysis", real), ("analysis, decode thread", decode_overlap)):
            c0, t0 = cpu(), time.perf_counter()
            if fn is None:
                decode_only(p)
            else:
                P.decode = fn
                _, fv = P.extract_features(p, cfg, options={"ocr": False})
            print(f"{label:26s} wall {time.perf_counter()-t0:6.2f} s  cpu {cpu()-c0:6.2f} s  load {open('/proc/loadavg').read().split()[:3]}", flush=True)
    P.decode = real
    _, a = P.extract_features(p, cfg, options={"ocr": False})
    P.decode = decode_overlap
    _, b = P.extract_features(p, cfg, options={"ocr": False})
    diff = [k for k in a.values if a.values[k] != b.values[k]]
    print("metrics that differ:", diff)
