import io

from apollo.progress import Ticker, duration


def test_lines_name_the_step_values_rate_and_time_left():
    out = io.StringIO()
    ticker = Ticker("train step", 600, start=100, every=0.0, stream=out)
    ticker.began -= 50.0  # 50 s for the 100 steps since the resume
    line = ticker.update(200, d_loss=0.5, g_loss=3.25)
    assert line.startswith("train step 200/600 (33%)  d_loss 0.5  g_loss 3.25  2.0/s")
    assert line.endswith("ETA 3 min 20 s")  # 400 steps at 0.5 s
    assert out.getvalue() == line + "\n"


def test_not_due_prints_nothing_and_unknown_totals_have_no_eta():
    out = io.StringIO()
    ticker = Ticker("evaluate", None, every=3600, stream=out)
    assert ticker.update(1) is None and out.getvalue() == ""
    assert "ETA" not in ticker.update(2, force=True) and out.getvalue().startswith("evaluate 2  ")
    assert duration(59) == "59 s" and duration(3700) == "1 h 01 min"
