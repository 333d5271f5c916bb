"""``python -m asckit.deploy MODEL PATH...``: ``asckit predict`` alone (see ``asckit.deploy.commands.main``)."""

import sys

from asckit.deploy.commands import main

sys.exit(main())
