import sys

from asckit.cli import main

sys.exit(main())
