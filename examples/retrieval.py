"""Retrieval-augmented answering: embed a small corpus, find the passages nearest a question, rerank them,
and answer from them alone, citing which passage said what.

    python examples/retrieval.py                      # offline, against the built-in emulator
    python examples/retrieval.py --live --model openai/gpt-4.1-mini \\
        --embed-model openai/text-embedding-3-small --rerank-model cohere/rerank-v3.5   # real providers
"""

from __future__ import annotations

import math

from _setup import example_manager, parse_args

from agentos_llm.testing import Reply

CORPUS = [
    "Llamas and alpacas are domesticated camelids from the Andes.",
    "The Eiffel Tower in Paris is about 330 metres tall.",
    "Alpaca fleece is softer than llama wool and has no lanolin.",
    "Camels store fat, not water, in their humps.",
    "Lisbon is the westernmost capital of mainland Europe.",
]
QUESTION = "How does alpaca fleece differ from llama wool?"

# The emulator answers every request from one queue, in order: the two embeddings and the rerank take the
# first three items (their vectors and scores are computed), the answer takes the last.
SCRIPT = [Reply(), Reply(), Reply(), Reply(text="Alpaca fleece is softer than llama wool and has no lanolin [1].")]


def cosine(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def main() -> None:
    args = parse_args(__doc__ or "", "openai/gpt-4.1-mini", embed_model="openai/text-embedding-3-small",
                      rerank_model="voyage/rerank-2.5")
    with example_manager(args.live, SCRIPT) as manager:
        # 1. Index: one vector per passage, in the corpus's order (batched for you when the corpus is large).
        index = manager.embed_sync(args.embed_model, CORPUS)
        query = manager.embed_sync(args.embed_model, QUESTION).vectors[0]
        # 2. Retrieve: the three nearest passages by cosine similarity.
        nearest = sorted(range(len(CORPUS)), key=lambda i: cosine(query, index.vectors[i]), reverse=True)[:3]
        # 3. Rerank them with a cross-encoder, which reads question and passage together.
        ranked = manager.rerank_sync(args.rerank_model, QUESTION, [CORPUS[i] for i in nearest], top_n=2)
        passages = [r.document for r in ranked.results]
        for n, result in enumerate(ranked.results, 1):
            print(f"[{n}] {result.relevance_score:.2f} {result.document}")
        # 4. Answer from the passages alone.
        context = "\n".join(f"[{n}] {text}" for n, text in enumerate(passages, 1))
        reply = manager.generate_sync(args.model, [
            {"role": "system", "content": "Answer only from the numbered passages and cite them like [1]. "
                                          "If they do not say, answer that you do not know."},
            {"role": "user", "content": f"Passages:\n{context}\n\nQuestion: {QUESTION}"},
        ], max_tokens=200)
        print("answer:", reply.text)
        spent = index.usage + reply.usage
        print(f"embedded {len(index.vectors)} passages of {len(index.vectors[0])} dimensions; "
              f"tokens {spent.total_tokens}")


if __name__ == "__main__":
    main()
