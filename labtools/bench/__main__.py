"""All the lab's benchmarks, one after the other (`make bench`). Each prints its own figures.

    python -m labtools.bench [--only setup fairseq hf engines notebooks main]

Performance targets are printed here, never asserted in tests.
"""

import argparse
import subprocess
import sys
import time

BENCHES = {
    "setup": ["setup_time", "--skip-tests"],  # one-command set-up on a fresh venv (target <= 8 min)
    "fairseq": ["fairseq_speed"],  # fairseq s/update, course configuration
    "hf": ["hf_vs_fairseq"],  # HF Trainer s/step vs fairseq s/update (ratio)
    "engines": ["grading_engines"],  # sequential nbgrader vs grade_class threads vs Dask LocalCluster
    "notebooks": ["notebook_speed", "--cold"],  # every chapter in smoke vs its time budget
    "main": ["main_job"],  # make run's main job end to end vs its 15-min budget on 2 cores
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
        rc = subprocess.call([sys.executable, "-m", f"labtools.bench.{script}", *rest])
        print(f"--- {name}: exit {rc}, {time.time() - t0:.0f} s", flush=True)
        if rc:
            failed.append(name)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
