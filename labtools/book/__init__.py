"""The Jupyter Book: chapter pages generated from ``solutions/``, the results page, the Sphinx extension and
the build (``python -m labtools.book.build``)."""
