"""MaskSource: TCP's training masks drawn one step ahead in a worker process, identical to masks drawn in place."""

import warnings

import pytest
import torch

from tcp_hub.training.mask_prefetch import MaskSource, draw_masks

REQUESTS = [(seed, 4, 48, 64) for seed in (11, 12, 13)]


@pytest.fixture
def source():
    src = MaskSource(workers=1)
    yield src
    src.close()


def test_masks_drawn_ahead_by_the_worker_equal_masks_drawn_in_place(source):
    first = source.get(REQUESTS[0], next_request=REQUESTS[1])
    source.wait(timeout=60)
    second = source.get(REQUESTS[1], next_request=REQUESTS[2])
    assert (source.drawn_here, source.from_worker) == (1, 1)  # only the first request was not drawn ahead
    assert torch.equal(first, torch.from_numpy(draw_masks(*REQUESTS[0])))
    assert torch.equal(second, torch.from_numpy(draw_masks(*REQUESTS[1])))
    assert second.shape == (4, 1, 48, 64) and second.dtype == torch.float32
    assert not torch.equal(first, second)


def test_asking_again_for_the_last_request_returns_it_without_drawing(source):
    a = source.get(REQUESTS[0], next_request=REQUESTS[1])
    b = source.get(REQUESTS[0], next_request=REQUESTS[1])  # e.g. the next micro-batch of one accumulated step
    assert b is a and source.drawn_here == 1


def test_a_request_other_than_the_one_drawn_ahead_is_drawn_in_place(source):
    source.get(REQUESTS[0], next_request=REQUESTS[1])
    other = (12, 2, 48, 64)  # a smaller last batch
    assert torch.equal(source.get(other), torch.from_numpy(draw_masks(*other)))
    assert source.drawn_here == 2


def test_without_workers_every_batch_is_drawn_in_place():
    src = MaskSource(workers=0)
    for now, ahead in zip(REQUESTS, REQUESTS[1:]):
        assert torch.equal(src.get(now, next_request=ahead), torch.from_numpy(draw_masks(*now)))
    assert src.drawn_here == 2 and src._pool is None


def test_a_dead_worker_warns_once_and_drawing_goes_on_in_place(source):
    source.get(REQUESTS[0], next_request=REQUESTS[1])
    source.wait(timeout=60)  # the worker is up and has drawn REQUESTS[1]
    for process in list(source._pool._processes.values()):
        process.kill()
        process.join()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = source.get(REQUESTS[1], next_request=REQUESTS[2])
        source.wait(timeout=60)  # the pool breaks when REQUESTS[2] is handed to it or while it is drawn
        got = [first, source.get(REQUESTS[2], next_request=REQUESTS[0])]
    assert [str(w.message)[:32] for w in caught] == ["the mask worker process failed ("]
    for request, masks in zip(REQUESTS[1:], got):
        assert torch.equal(masks, torch.from_numpy(draw_masks(*request)))
    assert source.workers == 0 and source._pool is None


def test_a_batch_the_worker_has_not_finished_is_drawn_here_instead_of_waited_for(source):
    big = (21, 64, 256, 256)  # about a second of drawing: not finished right after it is handed over
    source.get(REQUESTS[0], next_request=big)
    assert torch.equal(source.get(big), torch.from_numpy(draw_masks(*big)))
    assert (source.drawn_here, source.from_worker) == (2, 0)


def test_negative_worker_count_is_refused():
    with pytest.raises(ValueError, match="workers must be >= 0"):
        MaskSource(workers=-1)
