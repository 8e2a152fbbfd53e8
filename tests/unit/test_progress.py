import io
import logging

from hookstream.foundation.progress import Progress, ProgressLog, eta_seconds, status_line, summary


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


def test_eta_and_status_line_read_the_rate_so_far():
    assert eta_seconds(0, 100, 5.0) is None
    assert eta_seconds(25, 100, 5.0) == 15.0
    assert eta_seconds(120, 100, 5.0) == 0
    assert status_line("recover", 300, 1_200, 3.0) == "recover: 300 of 1,200 records (25%), 100/s, ETA 9.0 s"
    assert status_line("recover", 0, 0, 0.0) == "recover: 0 of 0 records (100%), 0/s, ETA unknown"


def test_progress_log_writes_a_line_per_interval_then_the_summary(caplog):
    now = [100.0]
    logger = logging.getLogger("test.progress")
    with caplog.at_level(logging.INFO, logger="test.progress"):
        progress = ProgressLog(logger, "recover", 40, 5.0, clock=lambda: now[0])
        due = []
        for done in range(1, 41):
            now[0] += 0.5  # 2 records/s: a line every 10 records
            due.append(progress.update(done))
        progress.finish()
    assert [i + 1 for i, d in enumerate(due) if d] == [10, 20, 30, 40]
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "recover: 10 of 40 records (25%), 2/s, ETA 15.0 s"
    assert lines[-1] == "recover: 40 of 40 records in 20.0 s (2/s)"
    first = caplog.records[0]
    assert (first.done, first.total, first.per_s, first.eta_s) == (10, 40, 2.0, 15.0)
