import sys

from tuneui.cli import main

if __name__ == "__main__":  # data workers import the main module again (multiprocessing's rule)
    sys.exit(main())
