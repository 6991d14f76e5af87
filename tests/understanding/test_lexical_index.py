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
        assert np.allclose(ours.scores(query), expected), query  # the dense-query path search uses


def test_documents_without_known_terms_get_zero_rows_and_zero_scores() -> None:
    index = TfidfIndex(tokenize, ["lost card", "", "the and of", "stolen card"])
    rows = index.matrix.toarray()
    assert np.allclose(np.linalg.norm(rows, axis=1), [1.0, 0.0, 0.0, 1.0])
    scores = index.scores("my card was lost")
    assert scores[0] > scores[3] > 0.0 and scores[1] == scores[2] == 0.0
    assert not index.scores("").any()


def test_building_the_knowledge_index_imports_no_scikit_learn() -> None:
    code = (
        "import sys; from core.retrieval import Retriever; from core.knowledge import Article; "
        "Retriever([Article('a', 'en', 'Lost card', 'Freeze it in the app.')]).search('lost card'); "
        "print('sklearn' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_search_gives_one_passage_per_slug_in_the_customer_language_wherever_its_versions_sit() -> None:
    from core.knowledge import Article
    from core.retrieval import Retriever

    # Versions of one slug need not be neighbours: documents added at run time come last.
    articles = [
        Article("lost-card", "en", "Lost card", "Freeze your lost card in the app."),
        Article("pin", "en", "Card PIN", "View your card PIN in the app."),
        Article("lost-card", "zh", "银行卡丢失", "在应用里冻结丢失的卡。lost card"),
    ]
    hits = Retriever(articles).search("I lost my card", top_k=3, language="zh")
    assert [h.article.slug for h in hits] == ["lost-card", "pin"]
    assert hits[0].article.language == "zh" and hits[0].score > hits[1].score > 0.0
