"""Tests that execute the chapter sources (smoke profile) and read what they print."""

import re


def printed(text: str, label: str) -> list[float]:
    """The numbers printed after ``label`` on the first line that has it: values, whatever the spacing and the
    thousands separators (``22,807,552`` → 22807552.0)."""
    for line in text.splitlines():
        if label in line:
            rest = line.split(label, 1)[1]
            return [float(x.replace(",", "")) for x in re.findall(r"-?\d[\d,]*(?:\.\d+)?", rest)]
    raise AssertionError(f"nothing printed after {label!r}")


def has_image(nb) -> bool:
    """Whether an executed notebook shows an image (a matplotlib figure) in some cell's outputs."""
    return any(
        o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
        for c in nb.cells
        for o in c.get("outputs", [])
    )
