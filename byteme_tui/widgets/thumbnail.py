"""A clip's frame in the breakdown, so a creator sees which clip this is. Drawn with Unicode half-blocks (``▀``,
the upper pixel in the foreground colour and the lower one in the background: two pixels per cell, works in any
colour terminal, over SSH, in tmux and in a browser), or with the terminal's own graphics (Kitty's protocol or
Sixel, through textual-image) when ``detect_graphics()`` found them before the app started.

The picture itself comes from the library service (``thumbnail(path, t_s)``: JPEG bytes from a small cache or one
seek in the file); this module only draws it."""
from __future__ import annotations

import io
import os
import sys

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

#: ``BYTEME_GRAPHICS=halfcell`` (or ``off``) skips asking the terminal about graphics (e.g. inside tmux, whose
#: answer may not be the outer terminal's); ``auto`` (the default) asks once, before the app starts.
GRAPHICS_ENV = "BYTEME_GRAPHICS"
GRAPHICS_MODES = ("auto", "halfcell", "off")
#: The widest a thumbnail gets, in cells (a landscape frame at the tall layout's height would take ~50).
MAX_WIDTH_CELLS = 32
#: ... and at most this fraction (1/N) of the terminal's width, so the findings keep their room at 80 columns.
SCREEN_SHARE = 5
#: Rows under the picture for its caption (the time, and why this frame).
CAPTION_ROWS = 2
#: The tallest a thumbnail gets, in rows (40 half-block pixels: at 160x50 the breakdown's lists have ~21 rows).
MAX_ROWS = 20


def detect_graphics(environ=os.environ) -> str:
    """'sixel', 'tgp' (Kitty), 'halfcell' or 'off'. Call it before the app starts: textual-image asks the terminal
    on stdin/stdout (each question waits at most 0.1 s), which cannot work once Textual reads the keyboard. Not a
    terminal (a pipe, a browser session): half-blocks, nothing asked."""
    choice = environ.get(GRAPHICS_ENV, "auto").strip().lower()
    if choice in ("off", "halfcell"):
        return choice
    if not (sys.__stdout__ and sys.__stdout__.isatty() and sys.__stdin__ and sys.__stdin__.isatty()):
        return "halfcell"
    try:
        import textual_image.widget  # noqa: F401 - asks the terminal once, on import
        from textual_image.renderable import Image as Best, SixelImage, TGPImage
    except Exception:  # noqa: BLE001 - any trouble asking: the half-blocks always work
        return "halfcell"
    return "sixel" if Best is SixelImage else "tgp" if Best is TGPImage else "halfcell"


def fit_cells(width_px: int, height_px: int, rows: int) -> int:
    """Columns a ``width_px`` x ``height_px`` picture takes at ``rows`` rows of half-blocks (two pixels per cell
    vertically, one horizontally: a cell is about twice as tall as wide, so the shape is kept)."""
    if width_px <= 0 or height_px <= 0 or rows <= 0:
        return 0
    return max(1, min(MAX_WIDTH_CELLS, round(width_px * 2 * rows / height_px)))


class HalfBlocks(Widget):
    """A picture drawn with ``▀``: each cell shows two pixels, scaled to the widget's size (shape kept)."""

    DEFAULT_CSS = """
    HalfBlocks { width: 100%; height: 1fr; }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.image = None  # PIL.Image.Image (RGB)
        self._rows: list[list[tuple]] = []
        self._drawn_at = (0, 0)

    def show(self, image) -> None:
        self.image = image.convert("RGB") if image is not None else None
        self._drawn_at = (0, 0)
        self.refresh(layout=True)

    def _pixels(self, cols: int, rows: int) -> list[list[tuple]]:
        if self._drawn_at != (cols, rows):
            from PIL import Image

            w, h = self.image.size
            scale = min(cols / w, 2 * rows / h)
            pw, ph = max(1, round(w * scale)), max(2, round(h * scale / 2) * 2)
            import numpy as np

            small = np.asarray(self.image.resize((pw, ph), Image.Resampling.BOX))
            self._rows = [[tuple(px) for px in row] for row in small.tolist()]
            self._drawn_at = (cols, rows)
        return self._rows

    def render_line(self, y: int) -> Strip:
        cols, rows = self.size
        if self.image is None or not cols or not rows:
            return Strip.blank(cols)
        px = self._pixels(cols, rows)
        if 2 * y + 1 >= len(px):
            return Strip.blank(cols)
        upper, lower = px[2 * y], px[2 * y + 1]
        segments = [Segment("▀", Style.from_color(_color(u), _color(d))) for u, d in zip(upper, lower)]
        return Strip(segments).extend_cell_length(cols)


def _color(rgb: tuple):
    from rich.color import Color

    return Color.from_rgb(*rgb[:3])


class Thumbnail(Vertical):
    """The picture and, under it, what it shows (``0:06`` and why: the clip's typical frame, a finding's start,
    the second selected on the risk strip). Hidden until there is a picture."""

    DEFAULT_CSS = """
    Thumbnail { width: 10; height: 100%; display: none; padding: 0 1 0 0; }
    Thumbnail.-shown { display: block; }
    Thumbnail #thumb-caption { width: auto; height: 2; color: $text-muted; }
    """

    def __init__(self, mode: str = "halfcell", **kwargs):
        super().__init__(**kwargs)
        self.mode = mode if mode in ("sixel", "tgp", "halfcell") else "halfcell"
        self.t_s: float | None = None
        self.why = ""
        self.picture_size: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        if self.mode == "halfcell":
            yield HalfBlocks(id="thumb-image")
        else:
            from textual_image import widget as graphics

            cls = graphics.SixelImage if self.mode == "sixel" else graphics.TGPImage
            yield cls(id="thumb-image")
        yield Static(id="thumb-caption")

    def show(self, picture: bytes | None, t_s: float | None, why: str) -> None:
        """Show the picture (JPEG or PNG bytes; None hides the thumbnail: no picture, or it could not be read)."""
        if picture is None:
            self.remove_class("-shown")
            return
        from PIL import Image

        from ..format import duration

        image = Image.open(io.BytesIO(picture))
        image.load()
        self.picture_size = image.size
        target = self.query_one("#thumb-image")
        if isinstance(target, HalfBlocks):
            target.show(image)
        else:
            target.image = image
        self.t_s, self.why = t_s, why
        self.query_one("#thumb-caption", Static).update(Text(f"{duration(t_s)}\n{why}"))
        self.add_class("-shown")
        self.fit()

    def fit(self) -> None:
        """Size the picture to the room beside the findings: as tall as they are (less the caption, at most
        ``MAX_ROWS``), as wide as its shape needs at that height (at most 1/``SCREEN_SHARE`` of the terminal)."""
        if self.picture_size is None or self.parent is None:
            return
        rows = max(2, min(MAX_ROWS, self.parent.size.height - CAPTION_ROWS))
        cols = max(1, min(fit_cells(*self.picture_size, rows), self.app.size.width // SCREEN_SHARE))
        w, h = self.picture_size
        rows = max(1, min(rows, round(cols * h / w / 2)))  # a wide picture: the caption right under it
        target = self.query_one("#thumb-image")
        target.styles.height = rows
        target.styles.width = cols
        self.styles.width = max(cols, len(self.why), 4) + 1  # the caption's words fit too; 1 column of padding
