"""Document and audio content parts through the three converters and the providers, and citations back.

Field names are checked against the vendor SDKs' own request types (OpenAI and Anthropic TypedDicts, google-genai
models, which forbid unknown fields); end to end, the body the emulator received is what is checked.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from anthropic import types as at
from anthropic.types.raw_message_delta_event import Delta
from google.genai import types as gt
from openai.types.chat import chat_completion_content_part_input_audio_param as oa_audio
from openai.types.chat import chat_completion_content_part_param as oa_part

from agentos_llm import DoneEvent, create_provider
from agentos_llm.errors import InvalidRequestError, UnsupportedCapabilityError
from agentos_llm.provider import IProvider
from agentos_llm.testing import WireEmulator
from agentos_llm.testing.emulator import Route, WireRequest, WireResponse, sse_event
from agentos_llm.types import AudioPart, Citation, CompletionResponse, DocumentPart, Message, user
from agentos_llm.wire import anthropic_messages as anth
from agentos_llm.wire import gemini_generate as gem
from agentos_llm.wire import openai_chat as oai

PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF").decode()
WAV = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00").decode()
NOTES = "The grass is green. The sky is blue."
MODES = ["generate", "stream"]


def typed_keys(part: Mapping[str, Any], typed_dict: Any) -> None:
    """`part` has every required key of the SDK's TypedDict and no key it does not know."""
    required, known = typed_dict.__required_keys__, typed_dict.__required_keys__ | typed_dict.__optional_keys__
    assert required <= set(part) <= known, (sorted(part), typed_dict.__name__)


def pdf(**kw: Any) -> DocumentPart:
    return DocumentPart(data=PDF, media_type="application/pdf", **kw)


# ====================================================================== OpenAI chat


def openai_parts(*parts: Any) -> list[dict[str, Any]]:
    content = oai.message_to_wire(user(list(parts)))["content"]
    assert isinstance(content, list), "a user message with a non-text part keeps list content"
    return content


def test_openai_pdf_data_becomes_a_file_part() -> None:
    text, file = openai_parts("Summarize this", pdf())
    assert text == {"type": "text", "text": "Summarize this"}
    assert file == {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}",
                                             "filename": "document.pdf"}}
    typed_keys(file, oa_part.File)
    typed_keys(file["file"], oa_part.FileFile)
    [named] = openai_parts(pdf(filename="q3-report.pdf"))
    assert named["file"]["filename"] == "q3-report.pdf"
    [txt] = openai_parts(DocumentPart(data=base64.b64encode(NOTES.encode()).decode(), media_type="text/plain"))
    assert txt["file"]["filename"] == "document.txt" and txt["file"]["file_data"].startswith("data:text/plain;")


def test_openai_file_id_text_and_url_documents() -> None:
    [by_id] = openai_parts(DocumentPart(file_id="file-6F2ksmvXxt4VdoqmHRw6kL"))
    assert by_id == {"type": "file", "file": {"file_id": "file-6F2ksmvXxt4VdoqmHRw6kL"}}
    typed_keys(by_id["file"], oa_part.FileFile)
    assert openai_parts(DocumentPart(text=NOTES, title="Field notes")) == [
        {"type": "text", "text": f"Field notes\n\n{NOTES}"}]
    assert openai_parts(DocumentPart(text=NOTES)) == [{"type": "text", "text": NOTES}]
    with pytest.raises(UnsupportedCapabilityError, match="Responses API") as info:
        openai_parts(DocumentPart(url="https://example.com/report.pdf"))
    assert info.value.capability == "document URLs"


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_openai_audio_becomes_input_audio(fmt: str) -> None:
    _, audio = openai_parts("What is said?", AudioPart(data=WAV, format=fmt))  # type: ignore[arg-type]
    assert audio == {"type": "input_audio", "input_audio": {"data": WAV, "format": fmt}}
    typed_keys(audio, oa_audio.ChatCompletionContentPartInputAudioParam)
    typed_keys(audio["input_audio"], oa_audio.InputAudio)


# ====================================================================== Anthropic Messages


def claude_blocks(*parts: Any) -> list[dict[str, Any]]:
    _, turns = anth.messages_to_wire([user(list(parts))])
    [turn] = turns
    assert isinstance(turn["content"], list)
    return turn["content"]


def test_anthropic_pdf_document_block_with_options() -> None:
    cache = {"type": "ephemeral"}
    [doc, text] = claude_blocks(pdf(title="Q3 report", context="Audited figures", citations=True,
                                    cache_control=cache), "Summarize")
    assert doc == {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                   "title": "Q3 report", "context": "Audited figures", "citations": {"enabled": True},
                   "cache_control": cache}
    assert text == {"type": "text", "text": "Summarize"}
    typed_keys(doc, at.DocumentBlockParam)
    typed_keys(doc["source"], at.Base64PDFSourceParam)
    typed_keys(doc["citations"], at.CitationsConfigParam)
    [plain] = claude_blocks(pdf(filename="q3.pdf"))
    assert plain["title"] == "q3.pdf" and "citations" not in plain and "context" not in plain


def test_anthropic_text_url_and_file_sources() -> None:
    encoded = base64.b64encode(NOTES.encode()).decode()
    for part in (DocumentPart(text=NOTES), DocumentPart(data=encoded, media_type="text/plain"),
                 DocumentPart(data=encoded, media_type="text/markdown")):
        [doc] = claude_blocks(part)
        assert doc["source"] == {"type": "text", "media_type": "text/plain", "data": NOTES}
        typed_keys(doc["source"], at.PlainTextSourceParam)
    [url] = claude_blocks(DocumentPart(url="https://example.com/report.pdf"))
    assert url["source"] == {"type": "url", "url": "https://example.com/report.pdf"}
    typed_keys(url["source"], at.URLPDFSourceParam)
    [by_id] = claude_blocks(DocumentPart(file_id="file_011CNha8iCJcU1wXNR6q4V8w"))
    assert by_id["source"] == {"type": "file", "file_id": "file_011CNha8iCJcU1wXNR6q4V8w"}
    typed_keys(by_id["source"], at.FileDocumentSourceParam)


def test_anthropic_files_beta_only_for_file_ids() -> None:
    assert anth.FILES_BETA == "files-api-2025-04-14"
    assert anth.needs_files_beta([user(["a", DocumentPart(file_id="file_011CNha8iCJcU1wXNR6q4V8w")])])
    assert not anth.needs_files_beta([user(["a", pdf()]), Message(role="assistant", content="ok"), user("b")])


def test_anthropic_refuses_audio_and_unreadable_documents() -> None:
    with pytest.raises(UnsupportedCapabilityError) as info:
        claude_blocks("listen", AudioPart(data=WAV))
    assert info.value.capability == "audio"
    with pytest.raises(UnsupportedCapabilityError, match="wordprocessingml"):
        claude_blocks(DocumentPart(data=PDF, media_type="application/vnd.openxmlformats-officedocument."
                                                          "wordprocessingml.document"))
    with pytest.raises(InvalidRequestError, match="UTF-8"):
        claude_blocks(DocumentPart(data=base64.b64encode(b"\xff\xfe\xfa").decode(), media_type="text/plain"))


# ====================================================================== Gemini


def gemini_parts(*parts: Any) -> list[dict[str, Any]]:
    contents, _ = gem.contents_from_messages([user(list(parts))])
    [turn] = contents
    for part in turn["parts"]:
        gt.Part.model_validate(part)  # camelCase REST names; the SDK's models forbid unknown fields
    return turn["parts"]  # type: ignore[no-any-return]


def test_gemini_documents() -> None:
    assert gemini_parts(pdf(), DocumentPart(text=NOTES, title="Field notes"), DocumentPart(text=NOTES)) == [
        {"inlineData": {"mimeType": "application/pdf", "data": PDF}},
        {"text": f"Field notes\n\n{NOTES}"},
        {"text": NOTES},
    ]
    uri = "https://generativelanguage.googleapis.com/v1beta/files/8x4r2kq1pz"
    assert gemini_parts(DocumentPart(file_id=uri), DocumentPart(url="gs://bucket/notes.txt"),
                        DocumentPart(url="https://example.com/r", media_type="text/html")) == [
        {"fileData": {"mimeType": "application/pdf", "fileUri": uri}},
        {"fileData": {"mimeType": "text/plain", "fileUri": "gs://bucket/notes.txt"}},
        {"fileData": {"mimeType": "text/html", "fileUri": "https://example.com/r"}},
    ]


def test_gemini_audio_uses_googles_mime_names() -> None:
    assert gemini_parts("transcribe", AudioPart(data=WAV), AudioPart(data=WAV, format="mp3"))[1:] == [
        {"inlineData": {"mimeType": "audio/wav", "data": WAV}},
        {"inlineData": {"mimeType": "audio/mp3", "data": WAV}},
    ]


# ====================================================================== citations (pure)

CITATIONS: list[at.TextCitation] = [
    at.CitationCharLocation(type="char_location", cited_text="The grass is green.", document_index=0,
                            document_title="Field notes", start_char_index=0, end_char_index=20),
    at.CitationPageLocation(type="page_location", cited_text="Revenue grew 12% year over year.", document_index=1,
                            document_title="Q3 report", start_page_number=3, end_page_number=4,
                            file_id="file_011CNha8iCJcU1wXNR6q4V8w"),
    at.CitationContentBlockLocation(type="content_block_location", cited_text="The sky is blue.", document_index=2,
                                    start_block_index=1, end_block_index=2),
    at.CitationsSearchResultLocation(type="search_result_location", cited_text="Set max_tokens on every call.",
                                     search_result_index=0, source="https://docs.example.com/guide",
                                     title="API guide", start_block_index=0, end_block_index=1),
    at.CitationsWebSearchResultLocation(type="web_search_result_location", cited_text="Markets rose on Tuesday.",
                                        encrypted_index="Eo8BCioIBxgCIiQ0NGFl", title="Market wrap",
                                        url="https://news.example.com/markets"),
]
EXPECTED = [
    Citation(type="char_location", cited_text="The grass is green.", title="Field notes", document_index=0,
             start=0, end=20),
    Citation(type="page_location", cited_text="Revenue grew 12% year over year.", title="Q3 report",
             file_id="file_011CNha8iCJcU1wXNR6q4V8w", document_index=1, start=3, end=4),
    Citation(type="content_block_location", cited_text="The sky is blue.", document_index=2, start=1, end=2),
    Citation(type="search_result_location", cited_text="Set max_tokens on every call.",
             url="https://docs.example.com/guide", title="API guide", document_index=0, start=0, end=1),
    Citation(type="web_search_result_location", cited_text="Markets rose on Tuesday.",
             url="https://news.example.com/markets", title="Market wrap"),
]
# The answer's text blocks, each with the citations backing it.
PIECES: list[tuple[str, list[at.TextCitation]]] = [
    ("Per the sources: ", []), ("the grass is green", CITATIONS[:1]), (", revenue grew 12%", CITATIONS[1:2]),
    (" and the sky is blue", CITATIONS[2:3]), ("; set max_tokens", CITATIONS[3:4]), ("; markets rose", CITATIONS[4:]),
    (".", []),
]
ANSWER = "".join(text for text, _ in PIECES)


def sdk_message() -> at.Message:
    blocks: list[at.ContentBlock] = [at.TextBlock(type="text", text=text, citations=list(cited) or None)
                                     for text, cited in PIECES]
    return at.Message(id="msg_01XFDUDYJgAACzvnptvVoYEL", type="message", role="assistant",
                      model="claude-sonnet-4-5-20250929", content=blocks, stop_reason="end_turn", stop_sequence=None,
                      usage=at.Usage(input_tokens=2095, output_tokens=503))


def sdk_events() -> list[dict[str, Any]]:
    """The stream of the same answer: citations arrive one per `citations_delta`, before the text they back."""
    message = sdk_message()
    start = message.model_copy(update={"content": [], "stop_reason": None,
                                       "usage": at.Usage(input_tokens=2095, output_tokens=1)})
    events: list[Any] = [at.RawMessageStartEvent(type="message_start", message=start)]
    for index, (text, cited) in enumerate(PIECES):
        block = at.TextBlock(type="text", text="", citations=[] if cited else None)
        events.append(at.RawContentBlockStartEvent(type="content_block_start", index=index, content_block=block))
        events += [at.RawContentBlockDeltaEvent(type="content_block_delta", index=index,
                                                delta=at.CitationsDelta(type="citations_delta", citation=c))
                   for c in cited]
        half = len(text) // 2
        events += [at.RawContentBlockDeltaEvent(type="content_block_delta", index=index,
                                                delta=at.TextDelta(type="text_delta", text=piece))
                   for piece in (text[:half], text[half:]) if piece]
        events.append(at.RawContentBlockStopEvent(type="content_block_stop", index=index))
    events.append(at.RawMessageDeltaEvent(type="message_delta", delta=Delta(stop_reason="end_turn"),
                                          usage=at.MessageDeltaUsage(output_tokens=503)))
    events.append(at.RawMessageStopEvent(type="message_stop"))
    return [e.to_dict(mode="json") for e in events]


def assemble(events: list[dict[str, Any]]) -> CompletionResponse:
    assembler = anth.MessagesStreamAssembler(model="claude-sonnet-4-5")
    for event in events:
        assembler.feed(event)
    _, response = assembler.finish()
    return response


def test_citations_from_a_whole_message_and_its_stream() -> None:
    whole = anth.parse_message(sdk_message().to_dict(mode="json"), model="claude-sonnet-4-5")
    assert whole.text == ANSWER and whole.citations == EXPECTED
    streamed = assemble(sdk_events())
    assert streamed.text == ANSWER and streamed.citations == EXPECTED
    plain = anth.parse_message({"content": [{"type": "text", "text": "hi", "citations": None}]}, model="m")
    assert plain.citations == []


# Recorded Anthropic bodies, from pydantic-ai's MIT-licensed test recordings (see tests/data/wire-samples/README.md).
# Sample 038a220d53ce88bf (test_thinking_with_native_tool_wire_contract[anthropic], a whole answer): the text and
# server_tool_use blocks verbatim; the thinking block and the 12 kB web_search_tool_result are left out.
_E1 = ("Eo8BCioIEBgCIiRmMDIyNDhmOC1jZWJhLTRlNmMtYmU3MC0yMGZkNzI5ZWM4YTESDLqFcchGmRGNbzffjBoMXmWqEC3e9fxiYBdAIjCfD71"
       "DN3ap06Guw4ghUSEPz6kOWkVdlujNf0ZbpO5nw/wtAiOzBQDAWMWi1E2FEEsqE3q4vj0f5IKZ6p5yqzBP5tbyppoYBA==")
_E2 = ("Eo8BCioIEBgCIiRmMDIyNDhmOC1jZWJhLTRlNmMtYmU3MC0yMGZkNzI5ZWM4YTESDKKXQRw50uZhuy5hqBoMMieYge27MUuM6TQOIjCNNzs"
       "k0Y+CPv9W67yepGLbUAR6MCj/i0iIJLKoTl+m+KIJaRjOAFqHBk6Z6T7Y1IgqE3ouOL+u20R69kXwz/6ENUXJ/yAYBA==")
_E3 = ("Eo8BCioIEBgCIiRmMDIyNDhmOC1jZWJhLTRlNmMtYmU3MC0yMGZkNzI5ZWM4YTESDGanWU3AkU4xlBFFEBoMR1xP7X9xOrh6p/TIIjDREQT"
       "mS7mXrK11CertuIcv88XYmjMuWtyp+Zepg9iKyUgN1hVj04AdqJFVpobuXKkqEzJhF3CYtH9rp0HG5joc3RvHT5UYBA==")
RECORDED_WHOLE: dict[str, Any] = {
    "id": "msg_01Rzh728rV96uEswBPJiJ4dE", "model": "claude-sonnet-4-5-20250929", "role": "assistant",
    "stop_details": None, "stop_reason": "end_turn", "stop_sequence": None, "type": "message",
    "usage": {"cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "inference_geo": "not_available",
              "input_tokens": 7744, "output_tokens": 353, "output_tokens_details": {"thinking_tokens": 80},
              "server_tool_use": {"web_fetch_requests": 0, "web_search_requests": 1}, "service_tier": "standard"},
    "content": [
        {"id": "srvtoolu_01L6M2kEPRMgZveqQYRxQuih", "input": {"query": "top news today"}, "name": "web_search",
         "type": "server_tool_use"},
        {"text": "Based on today's search results, the top news story appears to be **", "type": "text"},
        {"citations": [{"cited_text": "BREAKING NEWS: Iran and Israel say attacks halted after Trump tells both to "
                                      "stop 'shooting'\n\nIran and Israel declare a halt to fighting as President "
                                      "T...",
                        "encrypted_index": _E1,
                        "title": "Iran and Israel say attacks halted after Trump tells both to stop 'shooting'",
                        "type": "web_search_result_location",
                        "url": "https://www.cbsnews.com/live-updates/iran-war-trump-israel-strikes-ceasefire-"
                               "lebanon-beirut/"}],
         "text": "Iran and Israel declaring a halt to fighting after President Trump tells both to stop \"shooting,\" "
                 "with both countries seeking an immediate ceasefire after a major escalation", "type": "text"},
        {"text": "**. This is the most recent breaking news from just 5 hours ago.\n\nOther major stories today "
                 "include:\n\n- ", "type": "text"},
        {"citations": [{"cited_text": "BREAKING NEWS: Federal judge strikes down Trump's $100K H-1B visa fee, "
                                      "ruling it an unconstitutional tax\n\nFederal judge strikes down Trump H-1B "
                                      "fee ru...",
                        "encrypted_index": _E2,
                        "title": "Federal judge strikes down Trump's $100K H-1B visa fee, ruling it an "
                                 "unconstitutional tax",
                        "type": "web_search_result_location",
                        "url": "https://www.foxnews.com/politics/federal-judge-strikes-trumps-100k-h-1b-visa-fee-"
                               "ruling-unconstitutional-tax"}],
         "text": "A federal judge striking down Trump's $100,000 H-1B visa fee, ruling it an unconstitutional tax "
                 "that exceeded executive authority", "type": "text"},
        {"text": "\n\n- ", "type": "text"},
        {"citations": [{"cited_text": "BREAKING NEWS: LA mayoral race heads to November runoff as Karen Bass faces "
                                      "Mamdani-style socialist\n\nDuring the race, Raman pitched herself as a "
                                      "hopef...",
                        "encrypted_index": _E3,
                        "title": "LA mayoral race heads to November runoff as Karen Bass faces Mamdani-style "
                                 "socialist",
                        "type": "web_search_result_location",
                        "url": "https://www.foxnews.com/politics/la-mayoral-race-heads-november-runoff-karen-bass-"
                               "faces-mamdani-style-socialist"}],
         "text": "The LA mayoral race heading to a November runoff with incumbent Karen Bass facing a socialist "
                 "challenger", "type": "text"},
        {"text": "\n\n- Primary elections being held today in several states, including Maine's contested Senate "
                 "race\n\nThe Iran-Israel ceasefire development appears to be the most significant international "
                 "news breaking today.", "type": "text"},
    ],
}
# Sample e66c35c375e05714 (test_anthropic_text_parts_ahead_of_built_in_tool_call#2, a stream): message_start,
# content blocks 4 to 6 and the closing events, verbatim.
_E4 = ("Eo8BCioIBxgCIiQ0NGFlNjc2Yy05NThmLTRkNjgtOTEwOC1lYWU5ZGU3YjM2NmISDPlVjKJFL1cEATQHxBoMmnyB3bwNX/huknwwIjBucov"
       "w227VrxBBKylXn2ZtRUTNFLKhqrN2ojqMBrOQFeMJTJKhOLoD/Yeuz8LCbkkqE60CgvYkL+7jZBmzZqtVC4jh0OEYBA==")
_E5 = ("Eo8BCioIBxgCIiQ0NGFlNjc2Yy05NThmLTRkNjgtOTEwOC1lYWU5ZGU3YjM2NmISDKoXVmV7xykvFWyn8RoMyv6jIXB6ZXVZY8NtIjBVvuh"
       "9CQyc0lPCzZcTKGhm77yKxGMdesipLyitFAngZ4h4TRY3PAl+u5hQSTSbYqwqE7UvlygSdSGLcm+VYtllfi0bJsoYBA==")
_CITE4 = {"type": "web_search_result_location",
          "cited_text": "Asian Markets Higher as Fed Rate Cut Hopes Lift Global Sentiment",
          "url": "https://www.share-talk.com/what-happened-overnight-tuesday-16th-september-2025/",
          "title": "What happened overnight - Tuesday 16th September 2025 - Share Talk", "encrypted_index": _E4}
_CITE6 = {"type": "web_search_result_location",
          "cited_text": "Priests&#x27; protest over Gaza continues, severe rain and gales to impact parts of NZ, and a "
                        "British aristocrat and boyfriend sentenced for killing n...",
          "url": "https://www.1news.co.nz/2025/09/16/five-big-things-that-happened-today-tuesday-september-16/",
          "title": "Five Big Things That Happened Today: Tuesday, September 16", "encrypted_index": _E5}


def _text_events(index: int, *pieces: str, citation: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    start: dict[str, Any] = {"type": "text", "text": ""} if citation is None else {
        "citations": [], "type": "text", "text": ""}
    events = [{"type": "content_block_start", "index": index, "content_block": start}]
    if citation is not None:
        events.append({"type": "content_block_delta", "index": index,
                       "delta": {"type": "citations_delta", "citation": citation}})
    events += [{"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": p}}
               for p in pieces]
    return [*events, {"type": "content_block_stop", "index": index}]


RECORDED_STREAM: list[dict[str, Any]] = [
    {"type": "message_start", "message": {
        "id": "msg_01WKN8L6d2uNmLVGUJapTdvN", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 2694, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                  "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                  "output_tokens": 1, "service_tier": "standard"}}},
    *_text_events(4, "Asian markets rose higher as Federal Reserve rate cut hopes", " lifted global market sentiment",
                  citation=_CITE4),
    *_text_events(5, ". Additionally, "),
    *_text_events(6, "there were severe rain and gales", " impacting parts", " of New Zealand, an",
                  "d a notable court case involving", " a British aristoc", "rat", citation=_CITE6),
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
     "usage": {"input_tokens": 11665, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
               "output_tokens": 186, "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 0}}},
    {"type": "message_stop"},
]
RECORDED_STREAM_TEXT = ("Asian markets rose higher as Federal Reserve rate cut hopes lifted global market sentiment. "
                        "Additionally, there were severe rain and gales impacting parts of New Zealand, and a notable "
                        "court case involving a British aristocrat")


def test_citations_from_recorded_web_search_answers() -> None:
    whole = anth.parse_message(RECORDED_WHOLE, model="claude-sonnet-4-5")
    assert whole.text.startswith("Based on today's search results, the top news story appears to be **Iran")
    assert [(c.type, c.url) for c in whole.citations] == [
        ("web_search_result_location", RECORDED_WHOLE["content"][i]["citations"][0]["url"]) for i in (2, 4, 6)]
    first = whole.citations[0]
    assert first.title == "Iran and Israel say attacks halted after Trump tells both to stop 'shooting'"
    assert first.cited_text is not None and first.cited_text.startswith("BREAKING NEWS: Iran and Israel")
    assert (first.start, first.end, first.document_index, first.file_id) == (None, None, None, None)
    streamed = assemble(RECORDED_STREAM)
    assert streamed.text == RECORDED_STREAM_TEXT
    assert streamed.citations == [
        Citation(type="web_search_result_location", cited_text=c["cited_text"], url=c["url"], title=c["title"])
        for c in (_CITE4, _CITE6)]


# ====================================================================== end to end through the providers


class Canned:
    """An Anthropic answer the emulator serves as recorded: the whole body, or its events when streaming."""

    def __init__(self) -> None:
        self.body: dict[str, Any] | None = None
        self.events: list[dict[str, Any]] = []

    def handle(self, request: WireRequest, item: Any) -> WireResponse:
        if isinstance(request.body, dict) and request.body.get("stream"):
            return WireResponse.stream([sse_event(e, e["type"]) for e in self.events])
        return WireResponse.json(self.body)


CANNED = Canned()


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator(models=["gpt-4.1-mini", "claude-sonnet-4-5", "gemini-2.5-flash"]) as emu:
        emu.add_routes([Route("POST", re.compile(r"/v1/messages$"), CANNED.handle, scripted=False,
                              accepts=lambda request: CANNED.body is not None)])
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    server.reset()
    CANNED.body, CANNED.events = None, []
    yield server
    server.reset()
    CANNED.body, CANNED.events = None, []


def provider_for(emu: WireEmulator, provider_id: str) -> IProvider:
    base = {"anthropic": emu.anthropic_base_url, "gemini": emu.gemini_base_url}.get(provider_id, emu.openai_base_url)
    key = "AIzaSyTestKeyForTheEmulator0123456789abc" if provider_id == "gemini" else "sk-test"
    return create_provider(provider_id, api_key=key, base_url=base, max_retries=0)


def call(provider: IProvider, mode: str, model: str, messages: Any) -> CompletionResponse:
    if mode == "generate":
        return provider.generate_sync(model, messages)
    with provider.stream_sync(model, messages) as events:
        done = [e for e in events if isinstance(e, DoneEvent)]
    return done[-1].response


def sent(emu: WireEmulator) -> dict[str, Any]:
    [request] = emu.requests
    assert isinstance(request.body, dict)
    return request.body


@pytest.mark.parametrize("mode", MODES)
def test_openai_sends_documents_and_audio(emu: WireEmulator, mode: str) -> None:
    with provider_for(emu, "openai") as p:
        call(p, mode, "gpt-4.1-mini", [user(["Summarize", pdf(filename="r.pdf")])])
        assert sent(emu)["messages"][0]["content"][1] == {
            "type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "r.pdf"}}
        emu.reset()
        call(p, mode, "gpt-4o-audio-preview", [user(["Transcribe", AudioPart(data=WAV, format="mp3")])])
        assert sent(emu)["messages"][0]["content"][1] == {"type": "input_audio",
                                                          "input_audio": {"data": WAV, "format": "mp3"}}


@pytest.mark.parametrize(("provider_id", "model", "part", "capability"), [
    ("openai", "gpt-4.1-mini", AudioPart(data=WAV), "audio"),
    ("openai", "gpt-4o-audio-preview", pdf(), "documents"),
    ("openai", "gpt-4.1-mini", DocumentPart(url="https://example.com/r.pdf"), "document URLs"),
    ("groq", "llama-3.3-70b-versatile", pdf(), "documents"),
    ("anthropic", "claude-sonnet-4-5", AudioPart(data=WAV), "audio"),
])
@pytest.mark.parametrize("mode", MODES)
def test_a_part_the_model_cannot_take_fails_before_sending(emu: WireEmulator, mode: str, provider_id: str,
                                                           model: str, part: Any, capability: str) -> None:
    with provider_for(emu, provider_id) as p, pytest.raises(UnsupportedCapabilityError) as info:
        call(p, mode, model, [user(["look", part])])
    assert info.value.capability == capability
    assert emu.requests == []


def test_openrouter_takes_pdf_documents(emu: WireEmulator) -> None:
    with provider_for(emu, "openrouter") as p:
        p.generate_sync("anthropic/claude-sonnet-4.5", [user(["Summarize", pdf()])])
    assert sent(emu)["messages"][0]["content"][1]["file"]["filename"] == "document.pdf"


@pytest.mark.parametrize("mode", MODES)
def test_anthropic_sends_document_blocks(emu: WireEmulator, mode: str) -> None:
    with provider_for(emu, "anthropic") as p:
        response = call(p, mode, "claude-sonnet-4-5",
                        [user([DocumentPart(text=NOTES, title="Field notes", citations=True), "What color?"])])
    assert response.text
    assert sent(emu)["messages"] == [{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": NOTES},
         "title": "Field notes", "citations": {"enabled": True}},
        {"type": "text", "text": "What color?"}]}]


@pytest.mark.parametrize("mode", MODES)
def test_gemini_sends_inline_documents_and_audio(emu: WireEmulator, mode: str) -> None:
    with provider_for(emu, "gemini") as p:
        call(p, mode, "gemini-2.5-flash", [user(["Compare", pdf(), AudioPart(data=WAV)])])
    assert sent(emu)["contents"] == [{"role": "user", "parts": [
        {"text": "Compare"}, {"inlineData": {"mimeType": "application/pdf", "data": PDF}},
        {"inlineData": {"mimeType": "audio/wav", "data": WAV}}]}]


def test_generate_and_stream_give_the_same_citations(emu: WireEmulator) -> None:
    CANNED.body, CANNED.events = sdk_message().to_dict(mode="json"), sdk_events()
    messages = [user([pdf(citations=True), "Summarize with citations"])]
    with provider_for(emu, "anthropic") as p:
        whole = call(p, "generate", "claude-sonnet-4-5", messages)
        streamed = call(p, "stream", "claude-sonnet-4-5", messages)
    assert len(emu.requests) == 2
    assert whole.text == streamed.text == ANSWER
    assert whole.citations == streamed.citations == EXPECTED


def test_recorded_citations_through_the_provider(emu: WireEmulator) -> None:
    CANNED.body, CANNED.events = RECORDED_WHOLE, RECORDED_STREAM
    with provider_for(emu, "anthropic") as p:
        whole = call(p, "generate", "claude-sonnet-4-5", "What is the top news story today? Use web search.")
        streamed = call(p, "stream", "claude-sonnet-4-5", "What happened yesterday?")
    assert whole.citations == anth.parse_message(RECORDED_WHOLE, model="m").citations and len(whole.citations) == 3
    assert streamed.text == RECORDED_STREAM_TEXT
    assert [c.url for c in streamed.citations] == [_CITE4["url"], _CITE6["url"]]


@pytest.mark.parametrize("extra", [None, {"anthropic-beta": "context-1m-2025-08-07"}])
def test_a_document_by_file_id_sends_the_files_beta_header(extra: dict[str, str] | None) -> None:
    with WireEmulator() as emu:
        p = create_provider("anthropic", api_key="test-key-docs", base_url=emu.anthropic_base_url, max_retries=0)
        p.generate_sync("claude-sonnet-4-5", [user([DocumentPart(file_id="file_011"), "Summarize."])],
                        extra_headers=extra)
        betas = emu.requests[-1].headers.get("anthropic-beta", "").split(",")
        assert anth.FILES_BETA in betas
        if extra:
            assert "context-1m-2025-08-07" in betas  # the caller's own betas are kept
        p.generate_sync("claude-sonnet-4-5", "no documents here")
        assert "anthropic-beta" not in emu.requests[-1].headers
        p.close()
