"""The loss-spike detector: quiet while it learns the losses' size, then flags a critic loss far
above its recent median, and keeps flagged steps out of its history."""

from hepgan.train.divergence import LossSpikeDetector


def test_it_stays_quiet_until_it_has_seen_a_window_of_steps():
    detector = LossSpikeDetector(factor=10.0, window=5)
    assert [detector.check({"loss_d": v}) for v in (0.01, 0.02, 0.01, 0.02)] == [None] * 4
    assert detector.check({"loss_d": 3.0}) is None  # the 5th step: still learning the size


def test_a_jump_far_above_the_median_is_flagged_and_kept_out_of_the_history():
    detector = LossSpikeDetector(factor=100.0, window=4)
    for v in (-2.0, -3.0, 2.5, -2.8):
        assert detector.check({"loss_d": v, "loss_g": 1.0}) is None
    assert detector.check({"loss_d": -250.0}) is None  # 90x: noisy, not diverged
    why = detector.check({"loss_d": -7745.6})
    assert why is not None and "loss_d=-7746" in why and "last 4 steps" in why
    assert 7745.6 not in detector.history
    assert detector.check({"loss_d": -7745.6}) is not None  # still flagged: the median did not follow it


def test_a_critic_loss_near_0_may_grow_to_a_normal_size():
    detector = LossSpikeDetector(factor=100.0, window=3)
    for v in (0.001, 0.002, 0.001):
        detector.check({"loss_d": v})
    assert detector.check({"loss_d": 1.5}) is None  # 1,000x, but a losing-then-recovering critic
    assert detector.check({"loss_d": 150.0}) is not None


def test_logs_without_the_watched_loss_are_never_flagged():
    detector = LossSpikeDetector(factor=2.0, window=2)
    for _ in range(5):
        assert detector.check({"loss_g": 1e9}) is None
