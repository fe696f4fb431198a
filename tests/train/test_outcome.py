"""run.json: written atomically, read back (None when absent or damaged), and described in one line."""

from hepgan.train.outcome import cut_short_note, describe_outcome, read_outcome, write_outcome


def test_the_outcome_round_trips_and_a_missing_or_damaged_one_reads_as_none(tmp_path):
    assert read_outcome(tmp_path) is None
    outcome = {"steps": 40, "planned": 40, "cut_short": False, "trained": 40, "seconds": 10.0, "steps_per_s": 4.0,
               "threads": 2}
    write_outcome(tmp_path, outcome)
    assert read_outcome(tmp_path) == outcome
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temp file left behind
    (tmp_path / "run.json").write_text("{not json")
    assert read_outcome(tmp_path) is None


def test_the_description_says_what_the_last_call_trained_of_a_resumed_run():
    outcome = {"steps": 4000, "planned": 4000, "trained": 4000, "seconds": 700.0, "steps_per_s": 5.71, "threads": 2}
    assert describe_outcome(outcome) == "4,000 of 4,000 steps (in 700 s on 2 CPU threads, 5.71 steps/s)"
    resumed = {**outcome, "trained": 1500, "seconds": 300.0, "steps_per_s": 5.0, "threads": 1}
    assert describe_outcome(resumed) == "4,000 of 4,000 steps (the last 1,500 in 300 s on 1 CPU thread, 5.00 steps/s)"


def test_the_cut_short_note_gives_steps_done_of_planned_and_how_to_finish():
    note = cut_short_note(1455, 4000, 420.0)
    assert "(7.0 min) after 1,455 of 4,000 planned steps" in note and "--resume" in note
