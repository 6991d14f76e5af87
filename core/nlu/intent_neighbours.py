"""Each intent's closest training example, added to the linear model's score of that intent.

The SVM draws one flat boundary per intent; BANKING77's intents are many and close to each other
("card arrival" against "card delivery estimate"), and a message often sits next to one training
example of the right intent while the boundary puts it on the wrong side. So each intent's score
gets the cosine between the message's encoder row and that intent's nearest training example,
times a weight. The rows are the same ones the features read (the message is encoded once).

Measured with `python -m infra.bench.intents --weights 4 --cs 0.5 --neighbours 8 12 16 24` (the
weight chosen on the mean of the 80/20 dev splits of BANKING77 and CLINC150 train, never on the
folds reported: 0.9512 at 8, 0.9506 at 12, 0.9499 at 16, 0.9491 at 24, 0.9482 without):
BANKING77 5-fold cross-validation 0.9299 (worst fold 0.9235) against 0.9241 (0.9190) without
(at 12, the best on BANKING77's dev split alone: 0.9307, worst fold 0.9255). CLINC150 val
in-scope accuracy is unchanged (0.9673), and a model trained without out-of-scope examples,
thresholded on its top score and nearest examples, kept 0.9533 in-scope messages at 0.84
out-of-scope recall against 0.9549. The product reads every example's row for each message:
with its vector given, 1.0 -> 1.9 ms a message for a model of BANKING77's 10,003 examples, and
1.4 -> 5.7 ms for CLINC150's 15,000 on a busier machine. The model carries the rows as float16
(0.77 MB per 1,000 examples: BANKING77's model file 14.5 -> 22.2 MB). Off for a model trained with
labelled out-of-scope examples: there the nearest examples already judge out of scope
(:mod:`core.nlu.nearest_examples`), and with this term too (`--parts product`) CLINC150
rejected fewer unseen out-of-scope messages (recall 0.900 against 0.910) for about as many
in-scope ones kept (0.9530 against 0.9517), and the model would carry its rows twice.

Training scores each example out of fold for the temperature and the threshold, as the SVM's
scores are: compared only with the examples of the other folds, since examples of one intent are
often near-copies of each other, and a new message is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

_CHUNK: Final = 256  # messages compared at once: a chunk x examples float32 block, 10 MB at 10,000 examples
_NO_EXAMPLE: Final = -1.0  # the cosine of an intent without examples (the lowest a cosine can be)


class IntentNeighbours:
    """The training examples' unit encoder rows, grouped by intent, and the weight of the term.

    Stored (pickled) as float16; compared in float32, from a copy made once per loaded model.
    """

    __slots__ = ("rows", "starts", "n_classes", "weight", "_rows32")

    def __init__(self, rows: NDArray[np.float16], starts: NDArray[np.intp], n_classes: int, weight: float) -> None:
        self.rows = rows  # examples sorted by intent; intent k's are rows[starts[k]:starts[k + 1]]
        self.starts = starts  # n_classes + 1 offsets
        self.n_classes = n_classes
        self.weight = weight
        self._rows32 = np.asarray(rows, dtype=np.float32)

    @classmethod
    def of(cls, vectors: NDArray[np.floating], targets: NDArray[np.integer], n_classes: int, weight: float) -> IntentNeighbours:
        """The term for examples ``vectors`` (one encoder row each) of intents ``targets`` (column
        indices below ``n_classes``)."""
        order = np.argsort(targets, kind="stable")
        counts = np.bincount(np.asarray(targets)[order], minlength=n_classes)
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        return cls(_unit(np.asarray(vectors, dtype=np.float32)[order]).astype(np.float16), starts, n_classes, weight)

    def scores(self, rows: NDArray[np.floating]) -> NDArray[np.float64]:
        """``weight`` x each intent's best cosine, a row per message and a column per intent."""
        return self.weight * best_cosines(rows, self._rows32, self.starts)

    def __getstate__(self) -> dict[str, Any]:
        return {"rows": self.rows, "starts": self.starts, "n_classes": self.n_classes, "weight": self.weight}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["rows"], state["starts"], state["n_classes"], state["weight"])  # type: ignore[misc]


def best_cosines(rows: NDArray[np.floating], examples: NDArray[np.float32], starts: NDArray[np.intp]) -> NDArray[np.float64]:
    """Each row's highest cosine with the examples of each group (``starts``: n_groups + 1 offsets
    into ``examples``, sorted by group); a group without examples gets -1."""
    rows = _unit(np.atleast_2d(np.asarray(rows, dtype=np.float32)))
    examples = np.asarray(examples, dtype=np.float32)
    n_groups = len(starts) - 1
    present = np.flatnonzero(np.diff(starts) > 0)
    out = np.full((len(rows), n_groups), _NO_EXAMPLE)
    if len(present) == 0:
        return out
    for start in range(0, len(rows), _CHUNK):
        similarities = rows[start : start + _CHUNK] @ examples.T
        out[start : start + _CHUNK, present] = np.maximum.reduceat(similarities, starts[present], axis=1)
    return out


def fit(
    vectors: NDArray[np.floating], targets: NDArray[np.integer], n_classes: int, weight: float,
    folds: Sequence[tuple[NDArray[np.intp], NDArray[np.intp]]],
) -> tuple[IntentNeighbours, NDArray[np.float64]]:
    """The term over all examples, and each example's term out of fold (compared only with the
    examples of the other folds), to add to the out-of-fold SVM scores."""
    vectors = np.asarray(vectors, dtype=np.float32)
    targets = np.asarray(targets)
    out_of_fold = np.empty((len(targets), n_classes))
    for fit_rows, held_rows in folds:
        others = IntentNeighbours.of(vectors[fit_rows], targets[fit_rows], n_classes, weight)
        out_of_fold[held_rows] = others.scores(vectors[held_rows])
    return IntentNeighbours.of(vectors, targets, n_classes, weight), out_of_fold


def _unit(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0).astype(np.float32)
