"""Congestion control's pure parts: the estimator, the allocation, the downlink state."""

from __future__ import annotations

from media.bandwidth import (
    MAX_BACKOFF_S,
    RAISE_MARGIN,
    BandwidthEstimator,
    allocate,
    downlink_state,
)
from media.control import next_step

LAYERS = [80_000.0, 250_000.0, 700_000.0]


def test_heavy_loss_drops_the_estimate_to_what_got_through() -> None:
    estimator = BandwidthEstimator(initial_bps=3_000_000)
    # 2 Mbit/s sent, 85% lost: the link carries about 300 kbit/s.
    estimate = estimator.update(0.0, 0.85, 2_000_000, 2_000_000)
    assert 250_000 < estimate <= 300_000
    # Reports still describing the old rate are not acted on again.
    assert estimator.update(0.25, 0.85, 2_000_000, 400_000) == estimate


def test_no_loss_grows_slowly_then_faster_but_not_beyond_what_is_sent() -> None:
    estimator = BandwidthEstimator(initial_bps=300_000)
    estimator.update(0.0, 0.5, 600_000, 300_000)  # a loss: hold for the backoff
    held = estimator.estimate
    assert estimator.update(1.0, 0.0, 300_000, 300_000) == held
    steps = [estimator.update(2.0 + 0.25 * i, 0.0, 300_000, 300_000) for i in range(6)]
    growth = [b / a for a, b in zip([held, *steps], steps, strict=False)]
    assert growth[0] < 1.05 and growth[3] > growth[0]  # slow start after a loss
    for i in range(40):
        estimator.update(4.0 + 0.25 * i, 0.0, 300_000, 300_000)
    assert estimator.estimate == 300_000 * 2 + 100_000  # an app-limited link claims no more


def test_a_failed_step_up_goes_back_to_the_last_verified_rate() -> None:
    estimator = BandwidthEstimator(initial_bps=400_000)
    for i in range(16):  # 4 s carrying 280 kbit/s without loss
        estimator.update(0.25 * i, 0.0, 280_000, 280_000)
    estimator.update(4.0, 0.0, 420_000, 420_000)  # a raise, not yet proven
    estimator.update(4.25, 0.3, 420_000, 420_000, probing=True)  # and it fails
    assert abs(estimator.estimate - 280_000 / 0.9) < 1
    # Without a verified rate (a second failure at once), what got through is the measure.
    estimator.update(6.0, 0.5, 400_000, 400_000)
    assert estimator.estimate <= 400_000 * 0.5 * 0.95 + 1


def test_a_growing_queue_backs_off_before_loss() -> None:
    estimator = BandwidthEstimator(initial_bps=1_000_000)
    assert estimator.update(0.0, 0.0, 500_000, 500_000, queuing=True) == 450_000


def test_repeated_failures_back_off_up_to_the_cap() -> None:
    estimator = BandwidthEstimator(initial_bps=1_000_000)
    holds = []
    now = 0.0
    for _ in range(4):
        estimator.update(now, 0.3, 500_000, 500_000)
        start = estimator.estimate
        t = now + 0.25
        while estimator.update(t, 0.0, 500_000, 500_000) == start:
            t += 0.25
        holds.append(t - now)
        now = t + 0.5
    assert holds[0] < holds[1] and max(holds) <= MAX_BACKOFF_S + 0.3


def test_a_remb_caps_the_estimate() -> None:
    estimator = BandwidthEstimator(initial_bps=2_000_000)
    assert estimator.update(0.0, None, 0, 0, remb_bps=400_000) == 400_000


def test_allocation_gives_everyone_the_lowest_layer_first() -> None:
    plans = [LAYERS, LAYERS, LAYERS]
    assert allocate(10_000_000, plans) == [2, 2, 2]
    assert allocate(3 * 80_000 + 170_000, plans) == [1, 0, 0]
    assert allocate(2 * 80_000 + 10_000, plans) == [0, 0, -1]
    assert allocate(50_000, plans) == [-1, -1, -1]


def test_allocation_skips_layers_not_being_sent_and_empty_slots() -> None:
    assert allocate(1_000_000, [[0.0, 250_000.0, 0.0], []]) == [1, 2]
    assert allocate(100_000, [[0.0, 0.0, 0.0]]) == [2]  # not started: nothing to budget
    assert allocate(100_000, [[120_000.0]]) == [-1]  # one stream that does not fit


def test_hysteresis_keeps_what_fits_and_raises_need_room() -> None:
    plans = [LAYERS, LAYERS]
    # 100 kbit/s: slot 1 keeps its lowest layer (80k fits) though slot 0 comes first.
    assert allocate(100_000, plans, [-1, 0]) == [-1, 0]
    # Resuming needs the margin: 170k has room for 2 x 80k, not for 2 x 80k x 1.15.
    assert allocate(170_000, plans, [0, -1]) == [0, -1]
    assert allocate(190_000, plans, [0, -1]) == [0, 0]
    assert allocate(10_000_000, plans, [0, 0], may_raise=False) == [0, 0]
    assert allocate(10_000_000, plans, [0, 0], max_raises=1) == [1, 0]
    assert allocate(50_000, plans, [2, 2]) == [-1, -1]  # steps down to nothing


def test_downlink_state_names_what_the_subscriber_gets() -> None:
    plans = [LAYERS, LAYERS]
    assert downlink_state([2, 2], plans) == "full"
    assert downlink_state([2, 0], plans) == "reduced"
    assert downlink_state([-1, -1], plans) == "audio_only"
    assert downlink_state([2, 2], [[], []]) == "full"


def test_moderate_loss_at_a_low_rate_is_not_taken_for_a_full_link() -> None:
    # 200 kbit/s sent of a 4 Mbit/s estimate, 10% lost (Wi-Fi, a busy receiver): GCC's gentle
    # step, not "the link carries 180 kbit/s", which would pause everyone's video.
    estimator = BandwidthEstimator(initial_bps=4_000_000)
    assert estimator.update(0.0, 0.1, 200_000, 200_000) == 4_000_000 * 0.95
    # A quarter lost is congestion at any rate.
    assert estimator.update(2.0, 0.3, 200_000, 200_000) <= 200_000 * 0.7 * 0.95 + 1


def test_a_paused_single_stream_can_come_back() -> None:
    # Audio only (50 kbit/s), the paused slot's one stream costs 400 kbit/s: growth bounded by
    # twice what is sent would stop at 200 kbit/s, and the video would never resume.
    plans, want = [[400_000.0]], [-1]
    step = next_step(plans, want)
    assert step == 400_000 * RAISE_MARGIN
    estimator = BandwidthEstimator(initial_bps=100_000)
    now = 0.0
    for _ in range(200):
        now += 0.25
        estimator.update(now, 0.0, 50_000, 50_000, next_step_bps=(50_000 + step) / 0.9)
    assert estimator.estimate * 0.9 - 50_000 >= step
    assert allocate(estimator.estimate * 0.9 - 50_000, plans, want) == [0]


def test_next_step_is_the_cheapest_raise() -> None:
    plans = [[100_000.0, 300_000.0, 900_000.0], [100_000.0, 300_000.0, 900_000.0], []]
    assert next_step(plans, [2, 0, 2]) == 900_000 + 100_000 + 200_000 * RAISE_MARGIN
    assert next_step(plans, [2, 2, 2]) == 1_800_000  # nothing can go up
