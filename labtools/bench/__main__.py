"""All the lab's benchmarks, one after the other (`make bench`). Each prints its own figures.

    python scripts/benchmark.py [--only setup fairseq hf autograde]

Performance targets are printed here, never asserted in tests.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {
    "setup": ["bench_setup.py", "--skip-tests"],  # one-command set-up on a fresh venv (target <= 8 min)
    "fairseq": ["bench_fairseq.py"],  # fairseq s/update, course configuration
    "hf": ["bench_hf_vs_fairseq.py"],  # HF Trainer s/step vs fairseq s/update (ratio)
    "autograde": ["bench_autograde.py"],  # parallel vs sequential autograding (ratio)
    "notebooks": ["bench_notebooks.py", "--cold"],  # every chapter in smoke vs its time budget
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHES))
    args = ap.parse_args()
    failed = []
    for name in args.only or BENCHES:
        script, *rest = BENCHES[name]
        print(f"\n=== benchmark: {name} ({script}) ===", flush=True)
        t0 = time.time()
        rc = subprocess.call([sys.executable, str(HERE / script), *rest])
        print(f"--- {name}: exit {rc}, {time.time() - t0:.0f} s", flush=True)
        if rc:
            failed.append(name)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
