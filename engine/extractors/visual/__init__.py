"""Visual extractors: image quality (``image``), motion and cuts (``temporal``), faces (``faces``); ``frames`` makes
the cheap views of a decoded frame they share."""
