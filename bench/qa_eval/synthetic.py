"""Synthetic business documents in bulk, for the speed benchmarks: pages of
contract-, invoice- and policy-like sentences built from word lists with a
seeded random generator, so every run indexes the same text."""

from __future__ import annotations

import random

PAGE_CHARS = 2600  # under Documents' 3,000-character text page

COMPANIES = [
    "Aldermoor Supplies",
    "Bexley Components",
    "Carrow Medical",
    "Dunmore Freight",
    "Elmstead Labs",
    "Fairhaven Print",
    "Glenrock Security",
    "Harbourne Catering",
    "Ivybridge Software",
    "Juniper Estates",
    "Kestrel Energy",
    "Larchfield Textiles",
    "Merrow Diagnostics",
    "Northcliff Legal",
    "Oakridge Hygiene",
]
GOODS = [
    "laboratory reagents",
    "office furniture",
    "network switches",
    "ultrasound probes",
    "uniforms",
    "printer toner",
    "infusion pumps",
    "catering services",
    "security patrols",
    "waste collection",
    "pharmacy software",
    "electricity supply",
    "courier runs",
    "legal advice",
    "window cleaning",
]
TEMPLATES = [
    "{a} shall deliver the {g} to {b} within {n} working days of each written order.",
    "The price of the {g} is {c} {m} per month, payable within {n} days of the invoice date.",
    "Either party may end the {g} arrangement with {a} on {n} days' written notice.",
    "{b} may audit the records of {a} relating to the {g} once in each calendar year.",
    "Invoice {r} from {a} covers {g} supplied in period {n} for a total of {c} {m}.",
    "Staff of {a} must complete training on {g} every {n} months and keep the certificate.",
    "A credit of {n}% of the monthly fee is due to {b} when the {g} service misses its targets.",
    "Claims about damaged {g} must reach {a} within {n} days, with photographs of the damage.",
    "The {g} contract between {a} and {b} renews for {n} months unless cancelled in writing.",
    "{a} keeps insurance of {c} {m} covering its liability for the {g} it provides to {b}.",
    "Requests to change the {g} order are confirmed by {b} in writing within {n} hours.",
    "All {g} delivered by {a} remain its property until {b} has paid {c} {m} in full.",
]


def _sentence(generator: random.Random) -> str:
    first, second = generator.sample(COMPANIES, 2)
    return generator.choice(TEMPLATES).format(
        a=first,
        b=second,
        g=generator.choice(GOODS),
        n=generator.randint(2, 180),
        c=generator.choice(["GBP", "EUR", "USD"]),
        m=f"{generator.randint(1, 900):,},{generator.randint(0, 999):03d}",
        r=f"{generator.choice('ABCDEFGH')}-{generator.randint(1000, 99999)}",
    )


def page(generator: random.Random) -> str:
    sentences: list[str] = []
    length = 0
    while length < PAGE_CHARS - 200:
        sentence = _sentence(generator)
        sentences.append(sentence)
        length += len(sentence) + 1
    # Paragraphs of four sentences, as documents have.
    return "\n\n".join(" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4))


def files(documents: int, pages_per_document: int, *, seed: int = 16) -> list[tuple[str, bytes]]:
    """`documents` text files of `pages_per_document` pages each (form feeds
    between pages), as (name, content)."""
    generator = random.Random(seed)
    return [
        (
            f"synthetic-{number:04d}.txt",
            "\n\f\n".join(page(generator) for _ in range(pages_per_document)).encode("utf-8"),
        )
        for number in range(documents)
    ]
