"""``python -m engine.cli``: the headless commands (the terminal app opens from ``byteme``)."""
import sys

from . import main

if __name__ == "__main__":  # a spawned worker process imports this module again as __mp_main__
    sys.exit(main())
