"""The Document Q&A capability's declaration: meters, job kinds, navigation, settings."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from capabilities.registry import CapabilityConfig, DemoMeter, JobKind, Meter, NavEntry

if TYPE_CHECKING:
    from portal.models import Organization, User


class QaConfig(CapabilityConfig):
    name = "capabilities.qa"
    label = "qa"
    key = "qa"
    verbose_name = "Document Q&A"
    summary = "Ask your documents a question; get the sentences that answer it, with their citations."
    category = "Documents"
    dependencies = ("documents",)
    meters = (
        Meter(
            "questions",
            "question",
            Decimal("0.02"),
            description="Questions answered (a “no answer found” is not billed)",
        ),
        Meter("pages_indexed", "page", Decimal("0.001"), description="Pages indexed for questions"),
    )
    job_kinds = {
        "index_document": JobKind(
            "capabilities.qa.jobs.index_document",
            input="capabilities.qa.forms.IndexDocumentInput",
            label="Index a document for questions",
        ),
        "index_all": JobKind(
            "capabilities.qa.jobs.index_all",
            input="capabilities.qa.forms.IndexAllInput",
            label="Index all documents for questions",
            by_hand=True,
        ),
    }
    nav = NavEntry("Ask documents", "index")
    version = "1.0.0"
    demo_usage = (DemoMeter("questions", 14), DemoMeter("pages_indexed", 3, 12))
    demo_reason = "Find the clause in the contract without reading the whole contract"
    default_settings = {
        "MAX_QUESTION_CHARS": 500,
        # Passages: about this many characters, the next one starting this many
        # characters (in whole sentences) before the end of the last.
        "PASSAGE_CHARS": 600,
        "PASSAGE_OVERLAP": 150,
        # Below this score (cosine similarity of the best sentence to the
        # question, less some of its likeness to its document's title, blended
        # with word overlap) the answer is "no answer found".
        "MIN_SCORE": 0.40,
        # Check that an answer's document names what the question names, holds
        # the kind of thing asked for (a number, a time) and is about the
        # question's words (answerability.py); off: the score alone decides.
        "CHECK_ANSWERS": True,
        # Threads of the embedding model per worker process (0: onnxruntime decides).
        "EMBEDDING_THREADS": 0,
        # An OpenAI-compatible chat-completions server that writes answers from
        # the passages (optional; extractive answers without it).
        "LLM_BASE_URL": "",
        "LLM_MODEL": "",
        "LLM_API_KEY": "",
    }

    def ready(self) -> None:
        from capabilities.qa import receivers
        from capabilities.signals import capability_toggled, job_finished

        job_finished.connect(receivers.on_job_finished, dispatch_uid="qa.index_on_extraction")
        capability_toggled.connect(receivers.on_capability_toggled, dispatch_uid="qa.index_on_switch_on")

    def demo_content(self, organization: Organization, actor: User) -> list[str]:
        from capabilities.qa import demo

        return demo.create(organization, actor)
