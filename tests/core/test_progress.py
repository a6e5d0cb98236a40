"""Status lines: long work shows one line with its elapsed seconds, quick work nothing."""

import time

from jaxfit.core import progress


def test_status_line_appears_only_for_long_work(capsys):
    with progress.status_line("compiling the test fit", delay=0.2):
        time.sleep(0.6)
    err = capsys.readouterr().err
    assert "compiling the test fit" in err and err.rstrip().endswith(" s")
    seconds = float(err.rstrip().split()[-2])
    assert 0.5 <= seconds < 5.0  # the elapsed time of the block, not of the delay
    with progress.status_line("quick step", delay=0.5):
        time.sleep(0.05)
    assert capsys.readouterr().err == ""


def test_status_line_silent_when_quiet(capsys):
    progress.set_quiet(True)
    try:
        with progress.status_line("hidden", delay=0.0):
            time.sleep(0.2)
    finally:
        progress.set_quiet(False)
    assert capsys.readouterr().err == ""
