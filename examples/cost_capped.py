"""A cost-capped agent loop: a budget on the usage ledger stops the agent before it overspends.

The agent drafts and refines a text turn after turn; every call is recorded in a `UsageLedger`, and a
`Budget` refuses the call that could take the spend past the cap, before anything is sent. The agent
catches `BudgetExceededError` and ends with what it has.

    python examples/cost_capped.py                    # offline, against the built-in emulator
    python examples/cost_capped.py --live --model openai/gpt-4.1-mini --usd 0.01
"""

from __future__ import annotations

from _setup import example_manager, parse_args

from agentos_llm.errors import BudgetExceededError
from agentos_llm.ledger import Budget, MemoryStore, UsageLedger, usage_tags
from agentos_llm.testing import Reply

# Each emulated answer uses all of its 1,000 output tokens: a few turns reach a 1-cent cap.
SCRIPT = [Reply(text=f"Draft {n}: a haiku about the sea, refined.", completion_tokens=1000)
          for n in range(1, 30)]


def main() -> None:
    args = parse_args(__doc__ or "", "openai/gpt-4.1-mini", usd="0.01")
    usd = float(args.usd)
    # MemoryStore: the spend of this run only. UsageLedger() (SQLite in your data directory) or a PostgreSQL URL
    # keep it across runs and processes, so a per-day budget holds for every agent sharing the store.
    ledger = UsageLedger(MemoryStore(), tags={"app": "cost-capped-example"})
    cap = Budget(usd=usd, per="day", name=f"${usd} a day")
    with example_manager(args.live, SCRIPT) as manager:
        manager.attach_ledger(ledger, budgets=[cap])
        draft = "The sea."
        turn = 0
        with usage_tags(job="haiku"):
            while turn < 25:
                try:
                    reply = manager.generate_sync(args.model, [
                        {"role": "system", "content": "Improve the haiku. Answer with the haiku only."},
                        {"role": "user", "content": draft},
                    ], max_tokens=1000)  # also bounds the estimate the budget reserves for the call
                except BudgetExceededError as exc:
                    print(f"stopped before turn {turn + 1}: {exc.budget}: spent ${exc.spent:.4f} of ${exc.limit}")
                    break
                turn += 1
                draft = reply.text
                print(f"turn {turn}: ${reply.usage.cost_usd:.4f} ({reply.usage.cost_source}) {draft}")
        ledger.flush(5)
        for row in ledger.summary(by=["model"]):  # what the ledger holds: one row per model here
            print(f"ledger: {row['model']}: {row['calls']} calls, {row['input_tokens']} tokens in, "
                  f"{row['output_tokens']} out, ${row['cost_usd']:.4f}")
    ledger.close()
    print("final:", draft)


if __name__ == "__main__":
    main()
