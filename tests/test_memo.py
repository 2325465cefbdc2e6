"""The in-process memo of results computed from a fit's draws."""

from __future__ import annotations

from tnmodel.memo import DrawsMemo


def test_a_result_is_reused_only_for_the_same_draws_and_the_oldest_is_dropped():
    memo: DrawsMemo[int] = DrawsMemo(size=2)
    calls = []

    def compute(value: int):
        return lambda: calls.append(value) or value

    draws_a, draws_b, draws_c = {"x": 1}, {"x": 1}, {"x": 2}
    assert memo.get("a", draws_a, compute(1)) == 1
    assert memo.get("a", draws_a, compute(99)) == 1  # same draws: remembered
    assert memo.get("a", draws_b, compute(2)) == 2  # equal but other draws: computed anew
    memo.get("b", draws_c, compute(3))
    memo.get("a", draws_b, compute(98))  # "a" is now the most recently used
    memo.get("c", draws_c, compute(4))  # drops "b", the least recently used
    assert sorted(memo.results()) == [2, 4]
    assert calls == [1, 2, 3, 4]
