"""The dashboard (Textual).

Textual caps its frames at ``TEXTUAL_FPS`` (60 by default) and, after a frame that follows a
pause, schedules the next one one to two intervals later; a key pressed just as new data is
drawn waited 45-51 ms for its frame. At 120 the worst of 300 presses took 32-34 ms, at the
same CPU (benchmarks/bench_tui.py). Set before Textual is first imported, which every module
of this package does after this one; a value in the environment still wins.
"""

import os

os.environ.setdefault("TEXTUAL_FPS", "120")
