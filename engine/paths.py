"""Where BYTEME keeps things on disk: the data folder (store, user models, download archive, worker log).

``$BYTEME_DATA_DIR`` overrides the folder; otherwise it is platformdirs' user data dir for "byteme"."""
from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "BYTEME_DATA_DIR"
#: The models shipped with BYTEME (package data): the learned scorer and the picture-quality model.
SHIPPED_MODELS_DIR = Path(__file__).with_name("models")


def data_dir(*, create: bool = True) -> Path:
    """BYTEME's data folder (made when ``create``)."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        d = Path(env).expanduser()
    else:
        import platformdirs

        d = Path(platformdirs.user_data_dir("byteme"))
    if create:
        d.mkdir(parents=True, exist_ok=True)
    return d
