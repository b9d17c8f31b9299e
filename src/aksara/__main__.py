"""``python -m aksara`` runs the CLI."""

import sys

from aksara.cli import main

sys.exit(main())
