"""The course's results beside ours: one data structure, read by the results page and the chapters."""

import json

from frlab import course_results
from labtools.book import results_page


def test_table_puts_the_course_beside_every_profile():
    text = course_results.markdown(None)
    course, full, cpu, smoke = course_results.rows()
    assert course["pretrained"] == "~80 %" and course["random"] == "~65 %" and course["gap"] == "13–17 points"
    assert course["hf"] == "80–83 %" and "2022–2023" in course["status"]
    # cpu: the stored reference runs, as stored
    ref = json.loads((results_page.results_dir() / "part2" / "cpu" / "results.json").read_text())
    assert cpu["pretrained"].startswith(f"{ref['table']['pretrained']['mean']:.1f} ± ")
    assert cpu["gap"] == f"{ref['gap']:+.1f} points"
    # full: an assumption until a GPU run is stored; smoke: chance level, no conclusion
    assert full["status"] == course_results.ASSUMED_NOTE and "assumption" in text
    assert "no conclusion" in smoke["status"]
    for reason in ("128", "8,000", "126 pieces", "1,600 / 400", "1,800 / 200", "CPU-hour"):
        assert reason in text, reason


def test_a_stored_gpu_run_replaces_the_assumption(tmp_path):
    (tmp_path / "part2" / "full").mkdir(parents=True)
    (tmp_path / "part2" / "full" / "results.json").write_text(
        json.dumps(
            {"table": {"pretrained": {"mean": 81.0, "std": 0.5}, "random": {"mean": 66.0, "std": 1.0}}, "gap": 15.0}
        )
    )
    full = course_results.rows(tmp_path)[1]
    assert full["pretrained"] == "81.0 ± 0.5 %" and full["gap"] == "+15.0 points"
    assert full["status"] != course_results.ASSUMED_NOTE


def test_parts_show_their_columns_and_the_results_page_all():
    assert "random init" in course_results.table_markdown(
        "part2"
    ) and "Hugging Face" not in course_results.table_markdown("part2")
    assert "Hugging Face" in course_results.table_markdown("part3")
    page = results_page.page_text()
    assert "## The course's results and this book's" in page and course_results.table_markdown(None) in page
