"""The benchmark workloads B1-B4 (DESIGN section 5): a thin script over the package.

The harness lives in hwsim.bench (so that it works from an installed package):

    hwsim bench [--quick] [--json FILE] [--only B1,B3] [--repeats N] [--steps N]
    python -m hwsim.bench.report FILE.json          # the markdown tables of docs/performance.md
    python -m hwsim.bench.profile [--only B2,B3]    # where the time of a step goes

This script is ``hwsim bench`` with the same options: python benchmarks/throughput.py --quick
"""

import sys

from hwsim.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
