"""The embedding model, offline on the CPU: normalised vectors in which a
paraphrase is closer than an unrelated sentence."""

from __future__ import annotations

import threading

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


def test_a_vector_cache_gives_the_model_s_vectors_whatever_the_threads_and_its_bound():
    cache = embedding.VectorCache(3)
    words = ["cab", "taxi", "invoice", "holiday", "vacation", "lease"]
    expected = embedding.embed(words)
    results = {}

    def look_up(offset: int) -> None:
        order = words[offset:] + words[:offset]
        results[offset] = dict(zip(order, cache(order), strict=True))

    threads = [threading.Thread(target=look_up, args=(offset,)) for offset in range(len(words))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for found in results.values():
        for index, word in enumerate(words):
            assert np.allclose(found[word], expected[index], atol=1e-5)
    assert len(cache) == 3
    assert cache([]).shape == (0, 384)


def test_a_vector_cache_embeds_only_what_it_has_not_seen_once_each(monkeypatch):
    embedded = []
    embed = embedding.embed

    def counted(texts):
        embedded.append(list(texts))
        return embed(texts)

    monkeypatch.setattr(embedding, "embed", counted)
    cache = embedding.VectorCache(10)
    first = cache(["a lease", "an invoice", "a lease"])
    assert embedded == [["a lease", "an invoice"]]
    assert np.array_equal(first[0], first[2])
    again = cache(["an invoice", "a policy"])
    assert embedded[1:] == [["a policy"]]
    assert np.array_equal(again[0], first[1])
