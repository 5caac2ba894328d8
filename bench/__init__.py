"""Speed benchmark of the QA pipeline (``make bench``); see bench/README.md."""
