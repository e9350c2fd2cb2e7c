"""``python -m msmonai.cli``: the ``msmonai`` command without the console script."""

import sys

from msmonai.cli import main

sys.exit(main())
