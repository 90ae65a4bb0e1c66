"""The loop breaker, the bot's last line of defence (the server's logits processor is the first).

A reply is rejected when it is empty, degenerate, or near-identical to one of the clone's recent replies
(clonekit.repetition: the one definition shared with compare and the tests). The caller then retries with
higher penalties and a trimmed log; `would_loop` says whether sending a reply would complete a loop."""

from __future__ import annotations

from collections import deque

from clonekit.repetition import (
    LOOP_RUN,
    is_degenerate,
    longest_near_identical_run,
    normalize,
    repeats_earlier,
    would_loop,
)


class LoopGuard:
    def __init__(self, recent: int = 6):
        self.recent: deque[str] = deque(maxlen=recent)  # the clone's recent replies in this channel

    def problem(self, reply: str) -> str | None:
        """Why a reply must not be sent: "empty", "degenerate", "repeat", or None when it is fine."""
        if not normalize(reply):
            return "empty"
        if is_degenerate(reply):
            return "degenerate"
        if repeats_earlier(reply, list(self.recent)):
            return "repeat"
        return None

    def would_loop(self, reply: str) -> bool:
        return would_loop(list(self.recent), reply)

    def sent(self, reply: str) -> None:
        self.recent.append(reply)

    def reset(self) -> None:
        self.recent.clear()


def loop_check_line(replies: list[str]) -> tuple[str, bool]:
    """(a one-line summary, whether they loop) of a scripted chat's replies: `clonekit chat --loop-check`."""
    longest = longest_near_identical_run(replies)
    loops = longest >= LOOP_RUN
    line = (
        f"loop check: {len(replies)} replies, {len({normalize(r) for r in replies})} distinct, "
        f"near-identical replies at most {longest} in a row: {'LOOP' if loops else 'ok'}"
    )
    return line, loops
