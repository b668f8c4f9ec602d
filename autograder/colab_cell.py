"""The Colab install cell, as it appears in every generated notebook (after the constants).

Not imported: :func:`autograder.colab.install_cell_source` replaces everything above the ``# cell body``
line with the constants generated from ``requirements/`` and puts the text into the notebooks. The body uses
the standard library and ``packaging`` (Colab has it; pip vendors it otherwise).

What the cell does on Colab (and nothing elsewhere, or while nbgrader grades):

* a package the runtime already has in the range the lab accepts (``requirements/colab.txt``) is kept: the
  kernel has often imported it already, and replacing an imported package needs a runtime restart;
* what is missing is installed at its pin, with the versions the kernel has loaded given to pip as
  constraints; fairseq-fixed is built against the runtime's own torch; frlab comes from the repository;
* it prints what it kept, installed and built, and how long it took; a second notebook in the same
  runtime finds everything present and takes a second or two;
* if a package the kernel had loaded was replaced after all, it says which and asks for one restart.
"""

NEEDS: dict = {}  # distribution -> (range kept when present, pin installed otherwise)
BUILD: dict = {}  # distribution -> pin, built without isolation or dependencies against the runtime's torch
FRLAB = ""  # the pip requirement of the lab's package (the public repository)

# cell body
import os
import sys
import time

IN_COLAB = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
if IN_COLAB and not os.environ.get("NBGRADER_EXECUTION"):
    import importlib
    import importlib.metadata as md
    import subprocess
    import tempfile

    try:
        from packaging.specifiers import SpecifierSet
        from packaging.utils import canonicalize_name
    except ImportError:  # pragma: no cover - Colab has packaging
        from pip._vendor.packaging.specifiers import SpecifierSet
        from pip._vendor.packaging.utils import canonicalize_name

    t0 = time.time()
    FRLAB = os.environ.get("FRLAB_INSTALL_FROM") or FRLAB  # a local checkout instead of the repository

    def version(dist):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return None

    top = md.packages_distributions()
    loaded = {canonicalize_name(d) for m in {m.partition(".")[0] for m in list(sys.modules)} for d in top.get(m, ())}
    before = {d: version(d) for d in loaded}
    kept, install = [], {}
    for dist, (accept, pin) in NEEDS.items():
        v = version(dist)
        if v is not None and SpecifierSet(accept).contains(v, prereleases=True):
            kept.append(f"{dist} {v}")
        else:
            install[canonicalize_name(dist)] = dist + pin
    build = [d + p for d, p in BUILD.items() if version(d) is None]
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]

    did = []

    def run(args, what):
        t = time.time()
        print(f"frlab set-up: {what} ...", flush=True)
        r = subprocess.run(pip + args, capture_output=True, text=True)
        if r.returncode:
            print(r.stdout[-2000:], r.stderr[-4000:], sep="\n")
            raise RuntimeError(f"frlab set-up: pip failed while {what}")
        print(f"frlab set-up:   done in {time.time() - t:.0f} s", flush=True)
        did.append(what)

    if install:
        # what the kernel has loaded stays at its version (pip fails rather than replace it) unless listed
        with tempfile.TemporaryDirectory() as tmp:
            held = os.path.join(tmp, "loaded.txt")
            with open(held, "w") as f:
                f.write("".join(f"{d}=={v}\n" for d, v in sorted(before.items()) if v and d not in install))
            run(["-c", held, *install.values()], "installing " + ", ".join(install.values()))
    if build:
        run(
            ["--no-deps", "--no-build-isolation", *build],
            f"building {', '.join(build)} against torch {version('torch')} (a few minutes, once per runtime)",
        )
    if version("frlab") is None:
        run(["--no-deps", FRLAB], f"installing {FRLAB}")
    importlib.invalidate_caches()
    print(f"frlab set-up: kept {len(kept)} packages this runtime has ({', '.join(kept) or 'none'})")
    steps = f"{len(did)} install step(s)" if did else "nothing to install"
    print(
        f"frlab set-up: {steps}, {time.time() - t0:.1f} s in all (Python {sys.version.split()[0]}, torch {version('torch')})"
    )
    changed = [f"{d} {v} -> {version(d)}" for d, v in sorted(before.items()) if version(d) != v]
    if changed:
        print(
            "frlab set-up: the kernel had already loaded",
            ", ".join(changed),
            "\nRestart once (Runtime > Restart session), then run the notebook again from the top.",
        )
        raise SystemExit("restart the runtime once, then run again")
