"""Training progress on the console (a rich bar with loss and tokens/s) and the steady tokens/s rate the memory
plan and the benchmarks report (warm-up steps left out)."""

from __future__ import annotations

import time


def progress_callback(enabled: bool, label: str = "training"):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        """A rich progress bar with loss, real tokens/s and ETA (the Trainer's tqdm is off). It also counts the
        tokens this run trained on (the Trainer's `num_input_tokens_seen` also holds the resumed part)."""

        def __init__(self):
            self.bar = None
            self.loss = float("nan")
            self.eval_loss = None
            self.start = time.perf_counter()
            self.tokens0 = 0
            self.tokens = 0
            self.steady = SteadyRate()

        def on_train_begin(self, args, state, control, **kw):
            self.start, self.tokens0 = time.perf_counter(), state.num_input_tokens_seen
            if not (enabled and state.is_world_process_zero):
                return
            self.bar = Progress(
                TextColumn(label),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self.task = self.bar.add_task(label, total=state.max_steps, completed=state.global_step, info="")
            self.bar.start()

        def on_step_begin(self, args, state, control, **kw):
            self.steady.step_begins(state.num_input_tokens_seen)

        def on_evaluate(self, args, state, control, **kw):
            self.steady.interrupted()

        def on_save(self, args, state, control, **kw):
            self.steady.interrupted()

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            if "loss" in logs:
                self.loss = logs["loss"]
            if "eval_loss" in logs:
                self.eval_loss = logs["eval_loss"]

        def on_step_end(self, args, state, control, **kw):
            self.tokens = state.num_input_tokens_seen - self.tokens0
            if self.bar is None:
                return
            rate = self.tokens / max(time.perf_counter() - self.start, 1e-9)
            info = f"loss {self.loss:.3f}" + (f"  valid {self.eval_loss:.3f}" if self.eval_loss is not None else "")
            self.bar.update(self.task, completed=state.global_step, info=f"{info}  {rate:,.0f} tok/s")

        def on_train_end(self, args, state, control, **kw):
            if self.bar is not None:
                self.bar.stop()

    return RichProgress()


class SteadyRate:
    """Tokens per second after the first steps (allocations, kernel autotuning, caches) and without evaluations
    and checkpoint saves: what a long run trains at, and what scripts/gpu_check.py compares with its own rows.
    Each step is timed from its start to the next step's start, so a GPU step's queued work (the per-step loss
    read waits for it) is inside its own interval; a step during which an evaluation or a save ran is left out."""

    WARMUP_STEPS = 3

    def __init__(self):
        self.begun: tuple[float, int] | None = None
        self.steps = 0
        self.first_seconds = 0.0
        self.seconds = 0.0
        self.tokens = 0
        self.skip = False

    def step_begins(self, tokens_seen: int) -> None:
        now = time.perf_counter()
        if self.begun is not None:
            started, tokens = self.begun
            self.steps += 1
            if self.steps <= self.WARMUP_STEPS:
                self.first_seconds += now - started
            elif not self.skip:
                self.seconds += now - started
                self.tokens += tokens_seen - tokens
        self.begun, self.skip = (now, tokens_seen), False

    def interrupted(self) -> None:
        self.skip = True

    @property
    def rate(self) -> float | None:
        return self.tokens / self.seconds if self.seconds > 0 else None
