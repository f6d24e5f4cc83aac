"""`python -m w24_harness.sim`: the simulator's command line (`w24 sim`, w24_harness.cli.sim)."""

import sys

from w24_harness.cli.sim import main

if __name__ == "__main__":
    sys.exit(main())
