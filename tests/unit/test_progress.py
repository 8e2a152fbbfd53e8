import io

from hookstream.foundation.progress import Progress, summary


def test_off_a_terminal_the_output_is_one_summary_line():
    stream = io.StringIO()
    with Progress("rebuild", 3_000, stream=stream) as progress:
        for done in range(0, 3_001, 500):
            progress.update(done)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "\r" not in stream.getvalue()
    assert lines[0].startswith("rebuild: 3,000 of 3,000 records in ")


def test_on_a_terminal_a_live_bar_then_the_summary():
    stream = io.StringIO()
    with Progress("replay", 10, stream=stream, live=True) as progress:
        progress.update(10)
    text = stream.getvalue()
    assert "10/10" in text  # the bar's count
    assert text.rstrip().splitlines()[-1].startswith("replay: 10 of 10 records in ")


def test_a_failure_prints_no_summary():
    stream = io.StringIO()
    try:
        with Progress("rebuild", 10, stream=stream) as progress:
            progress.update(4)
            raise RuntimeError("broker away")
    except RuntimeError:
        pass
    assert stream.getvalue() == ""


def test_summary_reads_rate():
    assert summary("rebuild", 1_200, 1_200, 3.0) == "rebuild: 1,200 of 1,200 records in 3.0 s (400/s)"
    assert summary("rebuild", 0, 0, 0.0) == "rebuild: 0 of 0 records in 0.0 s (0/s)"
