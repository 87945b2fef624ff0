"""Structured extraction: typed records out of free text, validated by pydantic (re-asked when invalid).

    python examples/structured_extraction.py                        # offline, against the built-in emulator
    python examples/structured_extraction.py --live --model gemini/gemini-2.5-flash
"""

from __future__ import annotations

import json

from _setup import example_manager, parse_args
from pydantic import BaseModel, Field

from agentos_llm import StructuredResponse
from agentos_llm.testing import Reply

EMAIL = """Hi team, the kickoff is on 2026-03-02 at the Lisbon office. Ana Costa (ana@example.com) runs it;
Ben Okafor (ben@example.com, finance) and Chen Wei (design) will join remotely. Bring the Q1 budget."""


class Person(BaseModel):
    name: str
    email: str | None = Field(default=None, description="only if the text gives it")
    role: str | None = None


class Meeting(BaseModel):
    """A meeting announced in a message."""

    title: str
    date: str = Field(description="ISO 8601 date")
    location: str
    people: list[Person]
    action_items: list[str]


# The emulator's answers: first an invalid one (the date is missing), so the library re-asks, then a valid one.
VALID = Meeting(title="Kickoff", date="2026-03-02", location="Lisbon office",
                people=[Person(name="Ana Costa", email="ana@example.com", role="organizer"),
                        Person(name="Ben Okafor", email="ben@example.com", role="finance"),
                        Person(name="Chen Wei", role="design")],
                action_items=["Bring the Q1 budget"])
SCRIPT = [Reply(text=json.dumps({"title": "Kickoff", "location": "Lisbon office", "people": [], "action_items": []})),
          Reply(text=VALID.model_dump_json())]


def main() -> None:
    args = parse_args(__doc__ or "", "openai/gpt-4.1-mini")
    with example_manager(args.live, SCRIPT) as manager:
        result: StructuredResponse[Meeting] = manager.generate_structured_sync(
            args.model, [{"role": "system", "content": "Extract the meeting from the message."},
                         {"role": "user", "content": EMAIL}], Meeting, max_attempts=3)
        meeting = result.value  # a validated Meeting
        print(f"{meeting.title} on {meeting.date} at {meeting.location}")
        for person in meeting.people:
            print(f"  {person.name:<12} {person.email or '-':<18} {person.role or '-'}")
        print("action items:", meeting.action_items)
        print(f"attempts: {result.attempts}, tokens: {result.usage.total_tokens}")


if __name__ == "__main__":
    main()
