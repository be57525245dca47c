"""Text extractors: the offline sources and the caption (``sources``, with ``rules``: hooks, hashtags, readability),
on-screen text (``ocr``) and the optional transcript (``speech``)."""
