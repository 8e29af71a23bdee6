"""``python -m fmreview``: the same command line as the ``fmreview`` script."""

from fmreview.cli import entry

if __name__ == "__main__":
    entry()
