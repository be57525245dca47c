"""``python -m engine.cli``: the headless commands (the terminal app opens from ``byteme``)."""
from . import exit_process, main

if __name__ == "__main__":  # a spawned worker process imports this module again as __mp_main__
    exit_process(main())
