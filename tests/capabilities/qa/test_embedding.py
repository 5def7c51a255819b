"""The embedding model, offline on the CPU: normalised vectors in which a
paraphrase is closer than an unrelated sentence."""

from __future__ import annotations

import numpy as np

from capabilities.qa import embedding


def test_vectors_are_normalised_float32_of_384_dimensions():
    vectors = embedding.embed(["One sentence.", "Another, a little longer, sentence to embed."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedding.embed([]).shape == (0, 384)


def test_a_paraphrase_is_closer_than_an_unrelated_sentence():
    question, paraphrase, unrelated = embedding.embed(
        [
            "How much notice do we need to give to cancel the contract?",
            "Either party may terminate this agreement with 90 days' written notice.",
            "The warehouse moves to the new building on Monday.",
        ]
    )
    assert question @ paraphrase > question @ unrelated + 0.2


def test_the_model_is_loaded_once_per_process():
    assert embedding.model() is embedding.model()


def test_batches_and_order_do_not_change_a_text_s_vector():
    texts = [f"Clause {number}: payment is due within {number} days." for number in range(70)]
    together = embedding.embed(texts)
    alone = embedding.embed([texts[41]])[0]
    assert np.allclose(together[41], alone, atol=1e-4)


def test_a_text_longer_than_the_model_takes_is_truncated():
    vectors = embedding.embed(["notice " * 2000])
    assert vectors.shape == (1, 384)
