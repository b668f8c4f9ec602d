"""A small Sphinx extension for the course book (loaded from ``_config.yml``).

sphinx-book-theme builds the Colab launch URL from the page's own source path.
For the generated chapter pages (``book/chapters/partN_<slug>.md``, MyST
notebooks) that would point Colab at a Markdown file, which it cannot open.
This hook, run right after the theme's, points a chapter page's Colab button at
its exercise notebook ``notebooks/partN_<slug>.ipynb`` on the main branch, and
drops the Colab entry from any other non-``.ipynb`` page.

A second hook shows the paths of the build machine the way a reader can use them: in every page's text (the
outputs of executed cells included) a path inside the repository is written relative to it
(``/…/checkout/_build/work/smoke/part2`` -> ``_build/work/smoke/part2``), the data mirror as ``$FRLAB_MIRROR`` and
the home folder as ``~``. The pages then say nothing about where the book was built.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

CHAPTER_PREFIX = "book/chapters/"


def colab_target(pagename: str) -> str | None:
    """Repository path that a page's Colab button should open (None: no Colab button)."""
    if pagename.startswith("notebooks/"):
        return pagename + ".ipynb"
    if pagename.startswith(CHAPTER_PREFIX):
        return "notebooks/" + PurePosixPath(pagename).name + ".ipynb"
    return None


def _fix_launch_buttons(app, pagename, templatename, context, doctree):
    buttons = context.get("header_buttons") or []
    target = colab_target(pagename)
    for group in buttons:
        if group.get("label") != "launch-buttons":
            continue
        kept = []
        for b in group.get("buttons", []):
            if b.get("text") == "Colab":
                if target is None:
                    continue
                head = b["url"].split("/blob/", 1)[0]
                branch = app.config.html_theme_options.get("repository_branch", "main")
                b["url"] = f"{head}/blob/{branch}/{target}"
            kept.append(b)
        group["buttons"] = kept
    context["header_buttons"] = [g for g in buttons if g.get("label") != "launch-buttons" or g.get("buttons")]


def machine_prefixes() -> list[tuple[str, str]]:
    """(absolute prefix, what the page shows instead), longest prefix first."""
    from labtools import REPO_ROOT

    pairs: dict[str, str] = {}
    for root in {str(REPO_ROOT), os.path.realpath(REPO_ROOT)}:
        pairs[root.rstrip("/") + "/"] = ""
    mirror = os.environ.get("FRLAB_MIRROR")
    if mirror and os.path.isabs(mirror):
        for m in {mirror, os.path.realpath(mirror)}:
            pairs.setdefault(m.rstrip("/") + "/", "$FRLAB_MIRROR/")
    home = str(Path.home())
    if home not in ("", "/"):
        pairs.setdefault(home.rstrip("/") + "/", "~/")
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def relative_paths(text: str, prefixes: list[tuple[str, str]] | None = None) -> str:
    """``text`` with the build machine's absolute prefixes replaced (see :func:`machine_prefixes`)."""
    for prefix, repl in prefixes if prefixes is not None else machine_prefixes():
        if prefix in text:
            text = text.replace(prefix, repl)
            bare = prefix.rstrip("/")  # the folder itself, e.g. "work folder: <repo>" -> "work folder: ."
            text = text.replace(bare + " ", (repl.rstrip("/") or ".") + " ")
    return text


def _relative_paths_in_doctree(app, doctree):
    from docutils import nodes

    prefixes = machine_prefixes()
    for node in list(doctree.findall(nodes.Text)):
        text = str(node)
        new = relative_paths(text, prefixes)
        if new != text:
            node.parent.replace(node, nodes.Text(new))
    for node in doctree.findall(nodes.raw):  # the rawsource of raw HTML outputs (pandas tables)
        if node.rawsource:
            node.rawsource = relative_paths(node.rawsource, prefixes)


def setup(app):
    app.connect("html-page-context", _fix_launch_buttons, priority=510)
    app.connect("doctree-read", _relative_paths_in_doctree)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
