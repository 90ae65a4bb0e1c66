"""Style fidelity: an authorship classifier over the training split (every speaker), character n-gram TF-IDF and
logistic regression. `style_target_prob` is the mean probability it gives the target for a set of replies; the
real held-out replies give the ceiling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from clonekit.errors import ClonekitError


@dataclass
class AuthorshipModel:
    pipeline: Any  # a fitted scikit-learn Pipeline
    target_index: int
    speakers: list[str]

    def target_probs(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        return self.pipeline.predict_proba([t or " " for t in texts])[:, self.target_index]


def train_authorship(turns: list[tuple[str, str]], target: str, seed: int = 0) -> AuthorshipModel:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    speakers = sorted({s for s, _ in turns})
    if target not in speakers or len(speakers) < 2:
        raise ClonekitError(
            f"the style classifier needs the target ({target}) and at least one other speaker in "
            f"the training split; found {speakers}"
        )
    pipe = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2, lowercase=False),
        LogisticRegression(max_iter=2000, C=4.0, class_weight="balanced", random_state=seed),
    )
    pipe.fit([t for _, t in turns], [s for s, _ in turns])
    classes = list(pipe.classes_)
    return AuthorshipModel(pipe, classes.index(target), classes)
