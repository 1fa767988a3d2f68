import sys

from tuneui.cli import main

sys.exit(main())
