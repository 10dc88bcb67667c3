"""bench/report's chart, drawn again from the committed bench/results.tsv (no benchmark is run)."""
import importlib.machinery
import importlib.util
import shutil

import pytest

from workbook import path, run

REPORT = path("bench", "report")
RESULTS = path("bench", "results.tsv")


def load_report():
    """bench/report as a module (it has no .py ending)."""
    loader = importlib.machinery.SourceFileLoader("bench_report", REPORT)
    spec = importlib.util.spec_from_loader("bench_report", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_chart_keeps_higher_and_lower_is_better_apart():
    """A panel of the chart mixes ratios where higher is better with ratios where lower is
    better, or says neither, so a reader takes a 66x speed-up for a 66x cost."""
    report = load_report()
    _, _, results = report.read_merged(RESULTS)
    panels = {title: [bar[0] for bar in bars] for title, bars, _ in report.chart_panels(results)}
    assert all(title.startswith(("Higher is better", "Lower is better")) for title in panels), panels
    higher = next(bars for title, bars in panels.items() if title.startswith("Higher is better: A / B"))
    lower = next(bars for title, bars in panels.items() if title.startswith("Lower is better: A / B"))
    assert "fiber switch / swapcontext, switches per second" in higher
    assert any("nginx" in label and "req/s" in label for label in higher), higher
    assert all("req/s" in label or "per second" in label for label in higher), higher
    assert "corofied / handwritten" in lower
    assert any(label.startswith("wake: ") for label in lower), lower
    assert not any("req/s" in label or "per second" in label for label in lower), lower
    # Every ratio of the results is drawn, once.
    ratios = report.pick_median([r for _, _, rows in results for r in rows
                                 if r.value is not None and report.is_ratio(r)])
    assert len(higher) + len(lower) == len(ratios)


def test_chart_from_the_committed_results(tmp_path):
    """bench/report --chart-from cannot draw the chart without running every benchmark again."""
    if not shutil.which("gnuplot"):
        pytest.skip("gnuplot is not installed (Debian package gnuplot-nox)")
    result = run([REPORT, "--chart-from", RESULTS, "--out", str(tmp_path)])
    assert "wrote" in result.stdout and result.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.png"]
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_from_a_file_that_is_not_results(tmp_path):
    """A mistyped --chart-from file gets a traceback, or an empty chart, instead of one line."""
    bad = tmp_path / "bad.tsv"
    bad.write_text("not\ta results file\n")
    for source in (str(bad), str(tmp_path / "missing.tsv")):
        result = run([REPORT, "--chart-from", source, "--out", str(tmp_path)], check=False)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("bench/report: cannot read"), result.stderr
    assert not (tmp_path / "chart.png").exists()
