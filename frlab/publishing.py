"""Where the project is published: its public repository and the release that ships the project's own assets.

The one place these addresses are set. Everything else derives from them: the "Open in Colab" links, the
``pip install frlab @ git+…`` requirement of the Colab install cell, and the download URL of every asset that the
project publishes itself (an entry of ``assets_manifest.json`` with a ``release_file``, or with ``shipped``: a
folder of the repository, downloaded from :data:`RAW_URL`; see
:func:`frlab.assets.load_manifest`). ``tests/frlab/test_publishing.py`` checks that the repository's other files
(README.md, _config.yml, the book, the generated notebooks, autograder/colab.py) agree with this module.

A fork that publishes the course elsewhere changes :data:`REPOSITORY_URL` (and ``_config.yml``'s
``repository.url``), and uploads the project's assets (``python -m frlab.assets pack …``) to a release tagged
:data:`ASSETS_RELEASE_TAG` of its repository.
"""

from __future__ import annotations

import re

#: the project's public GitHub repository (no trailing slash, no ``.git``)
REPOSITORY_URL = "https://github.com/frlab-course/french-lm-lab"
#: the branch students install from and Colab opens notebooks from
DEFAULT_BRANCH = "main"
#: the GitHub release whose files are the project's own assets (bump it when a published file changes)
ASSETS_RELEASE_TAG = "assets-v1"
#: base URL of the release's files: ``<RELEASE_URL>/<file>``
RELEASE_URL = f"{REPOSITORY_URL}/releases/download/{ASSETS_RELEASE_TAG}"

#: base URL of the repository's files on the default branch: ``<RAW_URL>/<path in the repository>``
RAW_URL = f"https://raw.githubusercontent.com/{REPOSITORY_URL.removeprefix('https://github.com/')}/{DEFAULT_BRANCH}"

COLAB_URL = "https://colab.research.google.com"
COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def github_slug(url: str = REPOSITORY_URL) -> str:
    """``owner/name`` of a GitHub repository URL."""
    m = re.match(r"https?://github\.com/([^/]+/[^/]+?)(?:\.git)?/?$", url)
    if not m:
        raise ValueError(f"not a GitHub repository URL: {url!r}")
    return m.group(1)


def colab_base(branch: str = DEFAULT_BRANCH, repository_url: str = REPOSITORY_URL) -> str:
    """What every "Open in Colab" link starts with; the notebook's path in the repository follows."""
    return f"{COLAB_URL}/github/{github_slug(repository_url)}/blob/{branch}/"


def colab_url(notebook_relpath: str, branch: str = DEFAULT_BRANCH) -> str:
    """Colab link that opens ``notebook_relpath`` (e.g. ``notebooks/part1_parameter_counting.ipynb``)."""
    return colab_base(branch) + notebook_relpath.lstrip("/")


def colab_badge_markdown(notebook_relpath: str, branch: str = DEFAULT_BRANCH) -> str:
    return f"[![Open In Colab]({COLAB_BADGE_IMAGE})]({colab_url(notebook_relpath, branch)})"


def pip_requirement(branch: str = DEFAULT_BRANCH) -> str:
    """The requirement that installs frlab from the repository: ``frlab @ git+<repository>@<branch>``."""
    return f"frlab @ git+{REPOSITORY_URL}@{branch}"


def release_asset_url(filename: str, release_url: str = RELEASE_URL) -> str:
    """Download URL of a file of the project's assets release."""
    if not filename or "/" in filename or filename in (".", ".."):
        raise ValueError(f"a release file is a plain file name, not {filename!r}")
    return f"{release_url.rstrip('/')}/{filename}"


def repository_file_url(relpath: str, raw_url: str = RAW_URL) -> str:
    """Download URL of a file or folder of the repository (``assets/roberta-small-fr-cpu``): the project's files
    that a pip-installed frlab needs and that the repository ships (an asset with ``shipped`` in the manifest)."""
    parts = relpath.strip("/").split("/")
    if not relpath.strip("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"a path in the repository, not {relpath!r}")
    return f"{raw_url.rstrip('/')}/{'/'.join(parts)}"
