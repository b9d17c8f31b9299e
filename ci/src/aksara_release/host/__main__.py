"""``python -m aksara_release.host``: see :mod:`aksara_release.host.cli`."""

from aksara_release.host.cli import main

raise SystemExit(main())
