"""A small Sphinx extension for the course book (loaded from ``_config.yml``).

sphinx-book-theme builds the Colab launch URL from the page's own source path.
For the generated chapter pages (``book/chapters/partN_<slug>.md``, MyST
notebooks) that would point Colab at a Markdown file, which it cannot open.
This hook, run right after the theme's, points a chapter page's Colab button at
its exercise notebook ``notebooks/partN_<slug>.ipynb`` on the main branch, and
drops the Colab entry from any other non-``.ipynb`` page.
"""

from __future__ import annotations

from pathlib import PurePosixPath

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


def setup(app):
    app.connect("html-page-context", _fix_launch_buttons, priority=510)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
