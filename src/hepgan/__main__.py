"""``python -m hepgan`` runs the ``hepgan`` command (useful where console scripts are not on PATH)."""

import sys

from hepgan.cli import main

sys.exit(main())
