"""`python -m hftui` is the `hftui` command."""

import sys

from hftui.cli import main

sys.exit(main())
