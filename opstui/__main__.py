"""`python -m opstui` is the same as the `opstui` console script."""

from opstui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
