"""`python -m chamberlain.advisor ...`: the same as `chamberlain advise ...`."""

import sys

from chamberlain.advisor.cli import main

sys.exit(main())
