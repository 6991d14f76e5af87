"""The lexical index weighs terms exactly as scikit-learn's TfidfVectorizer would, without
importing scikit-learn at start-up."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from core.knowledge import load_articles
from core.lexical_index import TfidfIndex
from core.retrieval import tokenize
from tests.understanding.conftest import SAMPLE_BOT

QUERIES = ["I lost my card on the bus", "我的卡丢了怎么办", "SWIFT code for a wire", "zzz unknown words only"]


def test_scores_match_scikit_learn_on_the_sample_knowledge() -> None:
    documents = [a.searchable for a in load_articles(SAMPLE_BOT / "knowledge")]
    ours = TfidfIndex(tokenize, documents)
    reference = TfidfVectorizer(analyzer=tokenize, sublinear_tf=True, norm="l2")
    matrix = reference.fit_transform(documents)
    order = np.argsort(reference.get_feature_names_out())  # ours orders terms alphabetically too
    assert np.allclose(ours.matrix.toarray(), matrix.toarray()[:, order])
    for query in QUERIES:
        expected = (matrix @ reference.transform([query]).T).toarray().ravel()
        got = (ours.matrix @ ours.transform(query).T).toarray().ravel()
        assert np.allclose(got, expected), query


def test_building_the_knowledge_index_imports_no_scikit_learn() -> None:
    code = (
        "import sys; from core.retrieval import Retriever; from core.knowledge import Article; "
        "Retriever([Article('a', 'en', 'Lost card', 'Freeze it in the app.')]).search('lost card'); "
        "print('sklearn' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
