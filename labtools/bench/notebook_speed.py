"""Execute every chapter in the smoke profile and print each time against its budget.

Budgets (issues 2, 3, 4, 7): Part 2 <= 10 min (pretraining included), Part 3 <= 8 min, Part 4 <= 5 min.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BUDGET_S = {"part1": 120, "part2": 600, "part3": 480, "part4": 300}


def main():
    work = Path(tempfile.mkdtemp(prefix="frlab-bench-nb-")) if "--cold" in sys.argv else None
    env = {**os.environ, "FRLAB_PROFILE": "smoke", **({"FRLAB_WORK": str(work)} if work else {})}
    subprocess.call([sys.executable, "-m", "labtools.run_lab", "--profile", "smoke", "--tail", "3"], env=env)
    from frlab.paths import work_dir

    timings = json.loads(((work or work_dir()) / "smoke" / "executed" / "timings.json").read_text())
    print(f"\n{'chapter':32s} {'status':7s} {'seconds':>8s} {'budget':>7s}")
    for name, t in timings.items():
        budget = BUDGET_S.get(name.split("_")[0])
        verdict = "" if budget is None else ("met" if t["seconds"] <= budget else "NOT met")
        print(f"{name:32s} {t['status']:7s} {t['seconds']:8.0f} {budget or '':>7} {verdict}")
    print(
        "(--cold: fresh work folder, so smoke models and data are rebuilt)"
        if work
        else "(warm: reuses the work folder; pass --cold for a fresh one)"
    )


if __name__ == "__main__":
    main()
