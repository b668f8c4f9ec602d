"""nbconvert/nbgrader preprocessors used by the course config (``autograder/course.py``).

* :class:`RobustExecute` – nbgrader's ``Execute``: a dying kernel does not abort the notebook, and after each
  test cell the kernel is asked for the answers the cell is about (:mod:`autograder.checker` judges them).
* :class:`HideHiddenTests` – for the feedback pages: error outputs of cells with hidden tests lose their
  tracebacks when these show a hidden-test line (only ``ename`` and the assertion message remain), and
  every leak value (:mod:`autograder.leaks`) is scrubbed from every output and traceback. ``nbgrader.preprocessors.ClearHiddenTests`` then removes the hidden source itself.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from autograder import leaks

BEGIN_HID, END_HID = leaks.BEGIN_HID, leaks.END_HID
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def hidden_lines(source: str) -> list[str]:
    _, _, hid = leaks.split_regions(source)
    return [n for n in (leaks._norm(h) for h in hid) if len(n) >= 6]


class HideHiddenTests(Preprocessor):
    enabled = Bool(True)
    message = "a hidden test failed (hidden tests are not shown)"

    def preprocess(self, nb, resources):
        sec = leaks.secrets()
        secret_lines = list(sec.lines)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            hidden = hidden_lines(cell.source) if BEGIN_HID in cell.source else []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    tb = leaks._norm(_ANSI.sub("", "\n".join(out.get("traceback", []))))
                    evalue = leaks.scrub(str(out.get("evalue", "")), sec)
                    shows_secret = any(h in tb for h in hidden) or any(s in tb for s in secret_lines)
                    if shows_secret:
                        out["traceback"] = [
                            f"{out.get('ename', 'Error')}: {self.message}" + (f" -- {evalue}" if evalue else "")
                        ]
                    else:
                        out["traceback"] = [leaks.scrub(t, sec) for t in out.get("traceback", [])]
                    out["evalue"] = evalue
                else:  # every output, not only the hidden-test cells': a student's own print of a
                    # model count is the expected value too, and feedback pages never show expected values
                    if "text" in out:
                        out["text"] = leaks.scrub("".join(out["text"]), sec)
                    for k, v in list((out.get("data") or {}).items()):
                        if k.startswith("text/"):
                            out["data"][k] = leaks.scrub("".join(v) if isinstance(v, list) else v, sec)
        return nb, resources


def _error_output(ename: str, evalue: str):
    from nbformat.v4 import new_output

    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def remove_links(folder) -> list[str]:
    """Delete every symbolic link and special file (pipe, socket, device) under ``folder``, never following one:
    what the kernel made there must not make nbgrader's later steps (permissions, copies) reach other files."""
    import os
    import stat

    removed = []
    for root, dirs, files in os.walk(folder):
        for name in files + dirs:
            path = os.path.join(root, name)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                os.unlink(path)
                removed.append(os.path.relpath(path, folder))
    return removed


#: consecutive cells that hit the time limit after which the kernel is treated as dead
UNRESPONSIVE_AFTER = 2


def _robust_execute_class():
    from nbclient.exceptions import DeadKernelError
    from nbgrader.preprocessors import Execute

    from autograder import checker

    class RobustExecute(Execute):
        """nbgrader's ``Execute``, except that a dying kernel (crash, memory or CPU-time limit) does not abort
        the notebook: the cell where it died and every later code cell get a ``KernelDied`` error output, so
        tests that ran before keep their scores and the others score zero (with that reason)."""

        def preprocess(self, nb, resources=None, km=None):
            self._frlab_dead_at = None
            self._frlab_timed_out = False
            self._frlab_timeouts_in_a_row = 0
            try:
                return super().preprocess(nb, resources, km)
            finally:
                folder = ((resources or {}).get("metadata") or {}).get("path")
                if folder:
                    for gone in remove_links(folder):
                        self.log.warning("removed %s: made by the kernel, not a regular file", gone)

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type != "code":
                return cell, resources
            self._frlab_timed_out = False
            cell, resources = self._execute(cell, resources, index)
            self._frlab_timeouts_in_a_row = self._frlab_timeouts_in_a_row + 1 if self._frlab_timed_out else 0
            if self._frlab_timeouts_in_a_row >= UNRESPONSIVE_AFTER and self._frlab_dead_at is None:
                # a kernel that answers nothing (its messaging broken, or signals ignored) is treated as dead:
                # the later cells score zero now instead of each waiting for its own time limit
                self._frlab_dead_at = index
                self.log.warning(
                    "kernel died in cell %s: unresponsive (%s cells in a row hit the time limit)",
                    index,
                    self._frlab_timeouts_in_a_row,
                )
            if checker.is_test_cell(cell) and self._frlab_dead_at is None:
                if self._frlab_timed_out:  # measured here, not reported by the kernel: can only cost points
                    gid = cell.metadata.nbgrader["grade_id"]
                    resources.setdefault("frlab_answers", {})[gid] = (
                        f"this cell did not finish within the {self.timeout} s time limit: answers not read"
                    )
                else:
                    self._probe(cell, resources, index)
            return cell, resources

        async def _async_handle_timeout(self, timeout, cell=None):
            self._frlab_timed_out = True
            return await super()._async_handle_timeout(timeout, cell)

        def _probe(self, cell, resources, index):
            """Ask the kernel for the answers this test cell is about (:mod:`autograder.checker`); the probe's
            outputs go to ``resources["frlab_answers"]``, never into the notebook."""
            from nbformat.v4 import new_code_cell

            notebook, gid = resources["nbgrader"]["notebook"], cell.metadata.nbgrader["grade_id"]
            root, _ = checker.course_paths(resources)
            found = checker.probe_source(root, notebook, gid)
            if found is None:
                return
            source, nonce = found
            probe = new_code_cell(source)
            try:
                self.execute_cell(probe, index, store_history=False)
            except DeadKernelError:
                self._frlab_dead_at = index
                self.log.warning("kernel died while the grader read the answers of %s", gid)
            finally:
                self.nb["cells"][index] = cell  # nbclient stores the executed cell at its index
            resources.setdefault("frlab_answers", {})[gid] = checker.read_answers(probe.get("outputs", []), nonce)

        def _execute(self, cell, resources, index):
            if self._frlab_dead_at is not None:
                cell.outputs = [
                    _error_output(
                        "KernelDied", f"not run: the kernel died in an earlier cell (cell {self._frlab_dead_at})"
                    )
                ]
                return cell, resources
            try:
                return super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                self._frlab_dead_at = index
                cell.outputs.append(
                    _error_output(
                        "KernelDied", "the kernel died while running this cell (crash, memory or CPU-time limit)"
                    )
                )
                self.log.warning("kernel died in cell %s: the remaining cells are not run", index)
                return cell, resources

    return RobustExecute


RobustExecute = _robust_execute_class()
