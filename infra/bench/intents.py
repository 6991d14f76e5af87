"""Intent benchmark: TF-IDF alone against TF-IDF plus the retrieval encoder's embedding, and the
out-of-scope methods, on BANKING77 and CLINC150, each against the TF-IDF-only baseline of the
same run.

    python -m infra.bench.intents [--banking CSV] [--clinc JSON] [--embeddings DIR] [--oos-class] [--clinc-dev]
                                  [--neighbours W ...] [--parts choice cv clinc product]

Protocol (the official test splits are not used, nor seen):

* model choice: BANKING77 ``train.csv`` split 80/20 (stratified, seed 0) and CLINC150 ``train``
  split 80/20 the same way; every (encoder weight, C) on the grid is trained on the 80 and scored
  on the 20; the configuration with the best mean of the two is chosen. Then, for that
  configuration, the weight of the nearest-example term (:mod:`core.nlu.intent_neighbours`,
  ``--neighbours``: several weights are a grid judged the same way; 0 turns it off).
* reported: BANKING77 5-fold cross-validation of TF-IDF alone and of the chosen configuration
  without and with the nearest-example term (the same SVM each fold); CLINC150 in-scope accuracy
  on ``val`` after training on ``train``, and the out-of-scope methods, for each of them.
* out of scope (CLINC150): the 200 labelled out-of-scope examples (``oos_train`` + ``oos_val``)
  are split into 5 disjoint folds. Each method sets its threshold on 4 folds (the score that
  rejects ``--target`` of them) and is judged on the fifth: recall there, and in-scope accuracy on
  ``val`` at that threshold (an in-scope message counts only when accepted and right). The mean
  and the minimum over the folds are printed; the minimum is what a new out-of-scope sample may get.
  The explicit ``oos`` class (``--oos-class``) is trained on the 4 folds each time, as
  ``csbot train`` would, and judged the same way. ``logit+w kNN`` (`Fusion`) adds the max
  logit and the kNN cosine, its weight ``w`` chosen on an 80/20 split of ``train`` with the same
  folds (``val`` unseen by the choice).

``--parts product``: the model ``csbot train`` builds with its defaults, trained on CLINC150
``train`` + ``oos_train`` and judged on ``val`` + ``oos_val``.

Embeddings: ``DIR/<name>.npy`` with ``DIR/<name>.texts.json`` (names ``banking77_train``,
``clinc150_train``, ``clinc150_val``, ``clinc150_oos_train``, ``clinc150_oos_val``), as
``e5-small`` encodes queries; a missing or mismatched file is encoded here (about 50 ms a text;
progress on stderr) and written to DIR for the next run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from numpy.typing import NDArray

from core.nlu.encoders import load_encoder
from core.nlu.features import FeatureConfig, TextFeaturizer
from core.nlu.intent_neighbours import IntentNeighbours
from core.nlu.intents import IntentModel, IntentModelConfig, svm_c

# Where BANKING77 and CLINC150 lie (`banking77/train.csv`, `clinc150/train_val.json`): CSBOT_BENCH_DATA.
DATA = Path(os.environ.get("CSBOT_BENCH_DATA", "data"))
ENCODER = "e5-small"
WEIGHTS = (0.0, 1.0, 2.0, 3.0, 4.0)
CS = (0.5, 1.0)
OOS_FOLDS = 5
SEED = 0

Vectors = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Split:
    """Texts, labels and their embedding rows."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    vectors: Vectors

    def rows(self, index: NDArray[np.intp]) -> Split:
        return Split(tuple(self.texts[i] for i in index), tuple(self.labels[i] for i in index), self.vectors[index])

    def __add__(self, other: Split) -> Split:
        return Split(self.texts + other.texts, self.labels + other.labels, np.vstack([self.vectors, other.vectors]))


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def embeddings(name: str, texts: Sequence[str], cache: Path | None) -> Vectors:
    """The cached rows of ``texts`` when the cache holds exactly these texts, else encode them."""
    if cache is not None and (cache / f"{name}.npy").exists():
        cached = json.loads((cache / f"{name}.texts.json").read_text(encoding="utf-8"))
        if cached == list(texts):
            return np.load(cache / f"{name}.npy").astype(np.float32)
        _say(f"{name}: cached texts differ from the data set; encoding")
    encoder, rows = load_encoder(ENCODER), []
    for start in range(0, len(texts), 64):
        rows.append(encoder.encode(list(texts[start:start + 64])))
        _say(f"{name}: encoded {min(start + 64, len(texts))}/{len(texts)}")
    vectors = np.vstack(rows).astype(np.float32)
    if cache is not None:  # the next run reads them instead of spending minutes encoding
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / f"{name}.npy", vectors)
        (cache / f"{name}.texts.json").write_text(json.dumps(list(texts), ensure_ascii=False), encoding="utf-8")
    return vectors


def banking77(path: Path, cache: Path | None) -> Split:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = tuple(r["text"] for r in rows)
    return Split(texts, tuple(r["category"] for r in rows), embeddings("banking77_train", texts, cache))


def clinc150(path: Path, cache: Path | None) -> dict[str, Split]:
    data = json.loads(path.read_text(encoding="utf-8"))
    splits = {}
    for name in ("train", "val", "oos_train", "oos_val"):
        texts = tuple(t for t, _ in data[name])
        splits[name] = Split(texts, tuple(label for _, label in data[name]), embeddings(f"clinc150_{name}", texts, cache))
    return splits


def config(weight: float, c: float, neighbours: float = 0.0) -> IntentModelConfig:
    """TF-IDF plus `weight` x the encoder (none at 0), the SVM's `C`, and the nearest-example
    term's weight (only with the encoder)."""
    features = FeatureConfig(encoder=ENCODER, encoder_weight=weight) if weight > 0 else FeatureConfig()
    return IntentModelConfig(features=features, svm_c=c, neighbour_weight=neighbours if weight > 0 else 0.0)


@dataclass(frozen=True, slots=True)
class HeldOut:
    """A linear SVM's decision scores on held-out messages and, with an encoder, each intent's
    best cosine among the training examples: the accuracy at any nearest-example weight."""

    scores: NDArray[np.float64]
    cosines: NDArray[np.float64] | None
    correct: NDArray[np.intp]  # column of each message's true label (-1: unseen in training)
    seconds: float

    def accuracy(self, neighbours: float = 0.0) -> float:
        scores = self.scores if self.cosines is None or neighbours <= 0 else self.scores + neighbours * self.cosines
        return float(np.mean(scores.argmax(axis=1) == self.correct))


def held_out(train: Split, test: Split, conf: IntentModelConfig) -> HeldOut:
    """Train a linear SVM on ``conf``'s features of `train`; score `test` (and time the fit)."""
    from sklearn.svm import LinearSVC

    started = time.perf_counter()
    featurizer = TextFeaturizer(conf.features)
    svm = LinearSVC(C=svm_c(conf), random_state=conf.random_state).fit(
        featurizer.fit_transform(train.texts, train.vectors), train.labels
    )
    seconds = time.perf_counter() - started
    scores = svm.decision_function(featurizer.transform(test.texts, test.vectors))
    classes = list(svm.classes_)
    correct = np.array([classes.index(label) if label in classes else -1 for label in test.labels])
    cosines = None
    if conf.features.encoder is not None:
        targets = np.searchsorted(svm.classes_, np.asarray(train.labels))
        cosines = IntentNeighbours.of(train.vectors, targets, len(classes), 1.0).scores(test.vectors)
    return HeldOut(np.asarray(scores, dtype=np.float64), cosines, correct, seconds)


def accuracy_of(train: Split, test: Split, conf: IntentModelConfig) -> tuple[float, float]:
    """Held-out accuracy of ``conf`` (its nearest-example term included), and the seconds it trained."""
    result = held_out(train, test, conf)
    return result.accuracy(conf.neighbour_weight), result.seconds


def split_80_20(data: Split) -> tuple[Split, Split]:
    from sklearn.model_selection import train_test_split

    index = np.arange(len(data.labels))
    fit, held = train_test_split(index, test_size=0.2, stratify=data.labels, random_state=SEED)
    return data.rows(fit), data.rows(held)


def choose(
    dev_sets: dict[str, Split], weights: Sequence[float], cs: Sequence[float], neighbours: Sequence[float]
) -> IntentModelConfig:
    """The grid on 80/20 dev splits of `dev_sets`; the best mean accuracy wins. Then the
    nearest-example weight of the winner (with an encoder), the same way."""
    dev = {name: split_80_20(data) for name, data in dev_sets.items()}
    print(f"model choice: 80/20 dev splits of {', '.join(dev)}")
    print(f"{'weight':>6} {'C':>4} " + " ".join(f"{name:>9}" for name in dev) + f" {'mean':>6} {'fit s':>6}")
    best, best_mean, best_held = config(0.0, 1.0), -1.0, None
    for weight in weights:
        for c in cs:
            conf = config(weight, c)
            results = [held_out(fit, held, conf) for fit, held in dev.values()]
            mean = float(np.mean([r.accuracy() for r in results]))
            print(f"{weight:>6.1f} {c:>4.1f} " + " ".join(f"{r.accuracy():>9.4f}" for r in results)
                  + f" {mean:>6.4f} {sum(r.seconds for r in results):>6.1f}", flush=True)
            if mean > best_mean:
                best, best_mean, best_held = conf, mean, results
    if best.features.encoder is None or not neighbours or best_held is None:
        return best
    print(f"nearest-example weight for {describe(best)}:")
    print(f"{'weight':>6} " + " ".join(f"{name:>9}" for name in dev) + f" {'mean':>6}")
    best_weight, best_mean = 0.0, -1.0
    for weight in sorted({0.0, *neighbours}):
        accuracies = [r.accuracy(weight) for r in best_held]
        print(f"{weight:>6.1f} " + " ".join(f"{a:>9.4f}" for a in accuracies) + f" {np.mean(accuracies):>6.4f}", flush=True)
        if np.mean(accuracies) > best_mean:
            best_weight, best_mean = weight, float(np.mean(accuracies))
    return replace(best, neighbour_weight=best_weight)


def describe(conf: IntentModelConfig) -> str:
    weight = conf.features.encoder_weight if conf.features.encoder else 0.0
    if not weight:
        return f"TF-IDF alone, C={svm_c(conf):g}"
    neighbours = f" + {conf.neighbour_weight:g} x nearest example" if conf.neighbour_weight > 0 else ""
    return f"TF-IDF + {weight:g} x {ENCODER}, C={svm_c(conf):g}{neighbours}"


def banking_cv(banking: Split, chosen: IntentModelConfig, folds: int) -> None:
    """TF-IDF alone, `chosen` without its nearest-example term and with it (one SVM for both)."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(folds, shuffle=True, random_state=SEED)
    baseline, without = config(0.0, 1.0), replace(chosen, neighbour_weight=0.0)
    variants = [baseline, without] + ([chosen] if chosen != without else [])
    results: dict[str, list[float]] = {describe(conf): [] for conf in variants}
    for fit, held in splitter.split(np.zeros(len(banking.labels)), banking.labels):
        base = held_out(banking.rows(fit), banking.rows(held), baseline)
        ours = held_out(banking.rows(fit), banking.rows(held), without) if without != baseline else base
        results[describe(baseline)].append(base.accuracy())
        for conf in variants[1:]:
            results[describe(conf)].append(ours.accuracy(conf.neighbour_weight))
        _say(f"BANKING77 fold {len(results[describe(baseline)])}: "
             + "; ".join(f"{name} {values[-1]:.4f}" for name, values in results.items()))
    base_mean = float(np.mean(results[describe(baseline)]))
    print(f"BANKING77 {folds}-fold CV accuracy: " + "; ".join(
        f"{name} {np.mean(values):.4f} (min {np.min(values):.4f}, ratio {np.mean(values) / base_mean:.3f})"
        for name, values in results.items()))


@dataclass(frozen=True, slots=True)
class Scored:
    """What each out-of-scope method reads from one set of messages: its in-scope score (higher:
    more in scope) and whether the top intent was right."""

    method: dict[str, NDArray[np.float64]]
    correct: NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Fusion:
    """The max logit and the kNN cosine, each divided by its spread over in-scope messages, added
    with `weight` on the kNN term: the classifier and the nearest examples err on different
    messages, so the sum separates out-of-scope ones better than either."""

    weight: float
    logit_scale: float
    knn_scale: float

    def __call__(self, logit: NDArray[np.float64], knn: NDArray[np.float64]) -> NDArray[np.float64]:
        return logit / self.logit_scale + self.weight * knn / self.knn_scale


KNN_WEIGHTS = (0.25, 0.5, 1.0, 2.0)


def knn_cosine(data: Split, train: Split) -> NDArray[np.float64]:
    """Mean cosine of each message's 3 nearest training examples."""
    return np.sort(data.vectors @ train.vectors.T, axis=1)[:, -3:].mean(axis=1).astype(np.float64)


def choose_fusion(train: Split, conf: IntentModelConfig, oos: Split, target: float) -> Fusion:
    """The kNN weight with the best mean in-scope accuracy over the out-of-scope folds, on an
    80/20 split of CLINC150 train (val is not looked at), and the spreads of that 20%."""
    fit, held = split_80_20(train)
    model = IntentModel.train(list(zip(fit.texts, fit.labels, strict=True)), embeddings=fit.vectors, config=conf)
    inside_logit = model.scores(held.texts, held.vectors).max(axis=1)
    outside_logit = model.scores(oos.texts, oos.vectors).max(axis=1)
    inside_knn, outside_knn = knn_cosine(held, fit), knn_cosine(oos, fit)
    predicted = np.asarray(model.labels)[model.probabilities(held.texts, held.vectors).argmax(axis=1)]
    correct = predicted == np.asarray(held.labels)
    best, best_accuracy = None, -1.0
    for weight in KNN_WEIGHTS:
        fusion = Fusion(weight, float(inside_logit.std()), float(inside_knn.std()))
        inside, outside = fusion(inside_logit, inside_knn), fusion(outside_logit, outside_knn)
        accuracies = []
        for held_oos in oos_folds(oos):
            fitting = np.setdiff1d(np.arange(len(oos.labels)), held_oos)
            accuracies.append(float(np.mean(correct & (inside >= np.quantile(outside[fitting], target)))))
        _say(f"kNN weight {weight:g}: in-scope {np.mean(accuracies):.4f} on the train split")
        if np.mean(accuracies) > best_accuracy:
            best, best_accuracy = fusion, float(np.mean(accuracies))
    assert best is not None
    return best


def scored(model: IntentModel, data: Split, train: Split, fusion: Fusion | None = None) -> Scored:
    raw = model.scores(data.texts, data.vectors)
    probabilities = model.probabilities(data.texts, data.vectors)
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    scaled = raw / model.temperature
    peak = scaled.max(axis=1)
    energy = peak + np.log(np.exp(scaled - peak[:, None]).sum(axis=1))
    knn = knn_cosine(data, train)
    predicted = np.asarray(model.labels)[probabilities.argmax(axis=1)]
    methods = {"max probability": top2[:, 1], "margin": top2[:, 1] - top2[:, 0], "energy": energy,
               "max logit": raw.max(axis=1), "kNN cosine": knn}
    if fusion is not None:
        methods[f"logit+{fusion.weight:g} kNN"] = fusion(raw.max(axis=1), knn)
    return Scored(methods, predicted == np.asarray(data.labels))


def oos_folds(oos: Split) -> list[NDArray[np.intp]]:
    order = np.random.default_rng(SEED).permutation(len(oos.labels))
    return [np.sort(part) for part in np.array_split(order, OOS_FOLDS)]


def threshold_methods(
    model: IntentModel, train: Split, val: Split, oos: Split, target: float, fusion: Fusion | None = None
) -> None:
    """Each method's threshold from 4 out-of-scope folds, judged on the fifth."""
    inside, outside = scored(model, val, train, fusion), scored(model, oos, train, fusion)
    folds = oos_folds(oos)
    print(f"out of scope (CLINC150, {OOS_FOLDS} disjoint folds of the 200 oos examples; threshold rejects "
          f"{target:.0%} of the 4 fitting folds):")
    print(f"{'method':<16} {'recall mean':>11} {'recall min':>10} {'in-scope mean':>13} {'in-scope min':>12}")
    for name in inside.method:
        recalls, accuracies = [], []
        for held in folds:
            fit = np.setdiff1d(np.arange(len(oos.labels)), held)
            threshold = float(np.quantile(outside.method[name][fit], target))
            recalls.append(float(np.mean(outside.method[name][held] < threshold)))
            accuracies.append(float(np.mean(inside.correct & (inside.method[name] >= threshold))))
        print(f"{name:<16} {np.mean(recalls):>11.3f} {np.min(recalls):>10.3f} {np.mean(accuracies):>13.4f} "
              f"{np.min(accuracies):>12.4f}", flush=True)


def oos_class(train: Split, val: Split, oos: Split, conf: IntentModelConfig, target: float) -> None:
    """The explicit class, trained on 4 folds as `csbot train` would (threshold from its own
    out-of-fold predictions at `target`), judged on the fifth."""
    recalls, accuracies = [], []
    for held in oos_folds(oos):
        fit = np.setdiff1d(np.arange(len(oos.labels)), held)
        data = train + oos.rows(fit)
        model = IntentModel.train(list(zip(data.texts, data.labels, strict=True)), embeddings=data.vectors,
                                  config=replace(conf, oos_recall_target=target))
        recalls.append(float(np.mean([p.out_of_scope for p in model.predict_batch(
            oos.rows(held).texts, embeddings=oos.rows(held).vectors)])))
        predictions = model.predict_batch(val.texts, embeddings=val.vectors)
        accuracies.append(float(np.mean([not p.out_of_scope and p.intent == label
                                         for p, label in zip(predictions, val.labels, strict=True)])))
        _say(f"oos class: fold recall {recalls[-1]:.3f}, in-scope {accuracies[-1]:.4f}")
    print(f"{'oos class':<16} {np.mean(recalls):>11.3f} {np.min(recalls):>10.3f} {np.mean(accuracies):>13.4f} "
          f"{np.min(accuracies):>12.4f}", flush=True)


def product(clinc: dict[str, Split]) -> None:
    """What `csbot train` builds with its defaults (TF-IDF + e5-small, an `oos` class from
    `oos_train`), judged on `val` + `oos_val`: the combined out-of-scope rule training chose, and
    the confidence threshold it chose beside it."""
    data = clinc["train"] + clinc["oos_train"]
    model = IntentModel.train(list(zip(data.texts, data.labels, strict=True)), embeddings=data.vectors,
                              config=IntentModelConfig(features=FeatureConfig(encoder=ENCODER)))
    val, oos = clinc["val"], clinc["oos_val"]
    for rule, threshold in (("top score + nearest examples (default)", None), ("confidence alone", model.threshold)):
        kept = model.predict_batch(val.texts, threshold=threshold, embeddings=val.vectors)
        in_scope = np.mean([not p.out_of_scope and p.intent == label for p, label in zip(kept, val.labels, strict=True)])
        recall = np.mean([p.out_of_scope for p in model.predict_batch(oos.texts, threshold=threshold, embeddings=oos.vectors)])
        print(f"CLINC150 train + oos_train -> val + oos_val, csbot train defaults, {rule}: "
              f"in-scope {in_scope:.4f}, out-of-scope recall {recall:.3f}", flush=True)


def speed(models: dict[str, IntentModel], data: Split, n: int = 300) -> None:
    """Per-message cost of classifying given the vector retrieval computed, against TF-IDF alone
    (the first model)."""
    costs = {}
    for name, model in models.items():
        started = time.perf_counter()
        for text, row in zip(data.texts[:n], data.vectors[:n], strict=True):
            model.predict(text, embedding=row)
        costs[name] = (time.perf_counter() - started) / n * 1000
    base = next(iter(costs.values()))
    print("per message, vector given: " + " ; ".join(f"{k} {v:.2f} ms (ratio {v / base:.2f})" for k, v in costs.items()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banking", type=Path, default=DATA / "banking77" / "train.csv")
    parser.add_argument("--clinc", type=Path, default=DATA / "clinc150" / "train_val.json")
    parser.add_argument("--embeddings", type=Path, default=None, help="folder of cached embeddings")
    parser.add_argument("--target", type=float, nargs="+", default=(0.85, 0.90),
                        help="share of fitting oos examples to reject")
    parser.add_argument("--weights", type=float, nargs="+", default=WEIGHTS)
    parser.add_argument("--cs", type=float, nargs="+", default=CS)
    parser.add_argument("--folds", type=int, default=5, help="BANKING77 cross-validation folds")
    parser.add_argument("--oos-class", action="store_true", help="also the explicit oos class (5 trainings a target)")
    parser.add_argument("--parts", nargs="+", default=("choice", "cv", "clinc"),
                        choices=("choice", "cv", "clinc", "product"), help="which experiments to run")
    parser.add_argument("--choose-on", nargs="+", default=("BANKING77", "CLINC150"), choices=("BANKING77", "CLINC150"))
    parser.add_argument("--weight", type=float, default=None, help="skip the choice: this encoder weight")
    parser.add_argument("--neighbours", type=float, nargs="+", default=(IntentModelConfig().neighbour_weight,),
                        help="nearest-example weights to choose from on the dev splits (one: that weight; 0: off)")
    parser.add_argument("--clinc-dev", action="store_true",
                        help="out-of-scope comparison trained on 80%% of CLINC val (minutes, not an hour)")
    args = parser.parse_args(argv)

    banking = banking77(args.banking, args.embeddings) if {"choice", "cv"} & set(args.parts) else None
    needs_clinc = {"clinc", "product"} & set(args.parts) or "CLINC150" in args.choose_on
    clinc = clinc150(args.clinc, args.embeddings) if needs_clinc else None
    if "product" in args.parts and clinc is not None:
        product(clinc)
    if "choice" in args.parts:
        dev_sets = {"BANKING77": banking, "CLINC150": clinc["train"] if clinc else None}
        chosen = choose({k: v for k, v in dev_sets.items() if k in args.choose_on and v is not None}, args.weights, args.cs,
                        args.neighbours)
    else:
        chosen = config(args.weight if args.weight is not None else FeatureConfig().encoder_weight, args.cs[0],
                        args.neighbours[0])
    print(f"chosen: {describe(chosen)}")
    if "cv" in args.parts and banking is not None:
        banking_cv(banking, chosen, args.folds)
    if "clinc" not in args.parts or clinc is None:
        return 0
    baseline = config(0.0, 1.0)
    train, val = split_80_20(clinc["val"]) if args.clinc_dev else (clinc["train"], clinc["val"])
    where = "80% of val -> the other 20%" if args.clinc_dev else "train -> val"
    models, configs = {}, {}
    without = replace(chosen, neighbour_weight=0.0)
    for conf in dict.fromkeys((baseline, without, chosen)):  # without the nearest-example term, and with it
        configs[describe(conf)] = conf
        models[describe(conf)] = model = IntentModel.train(
            list(zip(train.texts, train.labels, strict=True)), embeddings=train.vectors, config=conf)
        predictions = model.predict_batch(val.texts, threshold=0.0, embeddings=val.vectors)
        accuracy = float(np.mean([p.intent == label for p, label in zip(predictions, val.labels, strict=True)]))
        print(f"CLINC150 {where} in-scope accuracy (no rejection), {describe(conf)}: {accuracy:.4f}", flush=True)
    speed(models, val)
    oos = clinc["oos_train"] + clinc["oos_val"]
    for name, model in models.items():
        conf = configs[name]
        for target in args.target:
            print(f"[{name}]")
            fusion = choose_fusion(train, conf, oos, target) if conf.features.encoder else None
            threshold_methods(model, train, val, oos, target, fusion)
            if args.oos_class and conf == chosen:
                oos_class(train, val, oos, chosen, target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
