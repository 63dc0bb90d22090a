"""From a student's question to a cited answer: retrieve, check grounding, prompt, generate, cite."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from models import ActiveAssignment, Answer, AnswerKind, Course, Question, SearchHit, Timings, Turn, last_turns
from rag.assignment_guard import guarded, guarded_answer, instruction
from rag.citations import citation_for, partial_text, resolve_citations
from rag.errors import EmptyQueryError, LanguageModelError, QuestionTooLongError
from rag.grounding import grounding_score
from rag.llm import GenerationSettings, LanguageModel
from rag.prompt import DEFAULT_POLICY, build_prompt, source_label
from rag.quotes import QuotePicker, compose
from rag.retriever import HybridRetriever
from rag.sections import widened_hits

log = logging.getLogger(__name__)

TextCallback = Callable[[str], None]
"""Called with the answer's text so far, citation markers already renumbered."""

NOT_COVERED = (
    "I couldn't find this in the course materials, so I'd rather not guess. "
    "A TA or your instructor can help with it."
)
RETRIEVAL_ONLY = (
    "I can't write an answer right now, but these passages of the course materials look most relevant:"
)
PASSAGES_LEAD = "These passages of the course materials look most relevant:"
"""Quote mode's lead when the passages hold no sentence to quote (tables, headings): nothing failed."""
SNIPPET_CHARS = 280

AnswerMode = Literal["auto", "generate", "quote"]
"""`generate`: the model writes the answer; `quote`: the course's own sentences, no model;
`auto`: quote while the only model is the demo one, else generate, and quote (saying why)
when the model cannot load or answer."""


@dataclass(frozen=True)
class Draft:
    """A grounded question whose passages are found and whose answer the model has yet to write."""

    question: str
    hits: tuple[SearchHit, ...]
    history: tuple[Turn, ...]
    course: Course
    mode: AnswerMode
    retrieve_ms: float
    assignment: ActiveAssignment | None = None
    """The assignment the question touches and its mode now (set by the caller, which knows the clock)."""


@dataclass(frozen=True)
class AnswerPolicy:
    min_relevance: float = 0.435
    """The grounding score below which the course is taken not to cover a question
    (calibrated on `shared/eval` by `bench.answers`, kept by `bench.grounding_cv` over both
    eval courses; README, "Grounding")."""
    max_question_chars: int = 4000
    max_history_turns: int = 10
    passages_when_offline: int = 3


class Answerer:
    """Answers questions about one course at a time from its index, with one language model.

    `model` is a factory so that a model that cannot load only costs the answers that
    need it: retrieval and the not-covered path keep working, and each attempt retries.
    """

    def __init__(
        self,
        retriever: HybridRetriever,
        model: Callable[[], LanguageModel],
        generation: GenerationSettings = GenerationSettings(),
        policy: AnswerPolicy = AnswerPolicy(),
        quotes: QuotePicker | None = None,
        demo_model: bool = False,
    ) -> None:
        """`demo_model`: only the packaged demo model is configured, so `auto` quotes without asking
        it. Any other model that cannot load or answer makes `auto` quote too, with the reason."""
        self.retriever = retriever
        self.model = model
        self.generation = generation
        self.policy = policy
        self.quotes = quotes or QuotePicker(retriever.embedder)
        self.demo_model = demo_model

    def check(self, question: Question) -> str:
        """The question's text, trimmed; raises on an empty or over-long question.

        Newlines and indentation stay: pasted code and tracebacks mean little without them.
        """
        text = "\n".join(line.rstrip() for line in question.text.strip().splitlines())
        if not text:
            raise EmptyQueryError("The question is empty: ask something about the course materials.")
        if len(text) > self.policy.max_question_chars:
            raise QuestionTooLongError(
                f"The question is {len(text):,} characters long; the limit is {self.policy.max_question_chars:,}. "
                "Ask about one thing at a time, or quote only the part of the code that matters."
            )
        return text

    def answer(self, question: Question, course: Course, on_text: TextCallback | None = None, mode: AnswerMode = "generate") -> Answer:
        """Both steps at once, for callers that do not schedule them apart (the CLI, benchmarks)."""
        outcome = self.retrieve(question, course, mode)
        return outcome if isinstance(outcome, Answer) else self.write(outcome, on_text)

    def retrieve(self, question: Question, course: Course, mode: AnswerMode = "generate") -> Answer | Draft:
        """The first step: search and the grounding check, and in quote mode the whole answer.

        A `Draft` still needs the model (`write`); the service runs the two steps on separate
        workers, so a decline or a quote never waits behind other students' generations.
        """
        text = self.check(question)
        started = time.perf_counter()
        result = self.retriever.search(course.name, text)
        retrieve_ms = (time.perf_counter() - started) * 1000
        hits = result.hits
        score = grounding_score(text, hits)
        if score < self.policy.min_relevance:
            log.info("not covered (grounding %.3f): %s", score, text[:80])
            return Answer(text=NOT_COVERED, grounded=False, kind="not_covered", timings=Timings(retrieve_ms=retrieve_ms))
        if mode == "quote" or (mode == "auto" and self.demo_model):
            return self._quoted(text, course, hits, retrieve_ms)
        return Draft(text, tuple(hits), last_turns(question.history, self.policy.max_history_turns), course, mode, retrieve_ms)

    def write(self, draft: Draft, on_text: TextCallback | None = None) -> Answer:
        """The second step: the model writes the answer from the draft's passages."""
        text, hits, retrieve_ms = draft.question, list(draft.hits), draft.retrieve_ms
        started = time.perf_counter()
        rule = instruction(draft.assignment)
        if rule is not None:
            on_text = None  # the answer is checked whole before anyone sees it
        try:
            model = self.model()
            prompt = build_prompt(
                text,
                hits,
                draft.history,
                count_tokens=model.count_tokens,
                context_window=model.context_window,
                answer_tokens=self.generation.max_tokens,
                policy=f"{draft.course.policy or DEFAULT_POLICY}\n\n{rule}" if rule else draft.course.policy,
            )
            pieces: list[str] = []

            def on_token(piece: str) -> None:
                pieces.append(piece)
                if on_text is not None:
                    on_text(partial_text("".join(pieces), prompt.sources))

            generation = model.generate(prompt.messages, self.generation, on_token)
            if not generation.text.strip():
                raise LanguageModelError(f"{model.name} wrote an empty answer")
        except LanguageModelError as exc:
            notice = f"The language model is unavailable: {exc}"
            if draft.mode == "auto":
                log.warning("answering with quotes: %s", notice)
                quoted = guarded_answer(self._quoted(text, draft.course, hits, retrieve_ms), draft.assignment)
                return quoted.model_copy(update={"notice": notice})
            log.warning("answering from retrieval only: %s", notice)
            return self._retrieval_only(hits, retrieve_ms, notice)
        answer_text, citations = resolve_citations(guarded(generation.text, draft.assignment), prompt.sources)
        return Answer(
            text=answer_text,
            citations=citations,
            grounded=True,
            kind="answer",
            model=model.name,
            timings=Timings(
                retrieve_ms=retrieve_ms,
                generate_ms=(time.perf_counter() - started) * 1000,
                first_token_ms=None if generation.first_token_s is None else generation.first_token_s * 1000,
            ),
        )

    def _quoted(self, question: str, course: Course, hits: list[SearchHit], retrieve_ms: float) -> Answer:
        started = time.perf_counter()
        policy = self.quotes.policy
        sections = widened_hits(self.retriever.index, course.name, hits[: policy.passages], policy.section_reach)
        quotes = self.quotes.pick(question, sections, [hit.text for hit in hits[: policy.passages]])
        if not quotes:
            return self._retrieval_only(hits, retrieve_ms, None, lead=PASSAGES_LEAD, kind="quote")  # headings or tables only
        text, citations = compose(quotes, hits)
        return Answer(
            text=text,
            citations=citations,
            grounded=True,
            kind="quote",
            timings=Timings(retrieve_ms=retrieve_ms, generate_ms=(time.perf_counter() - started) * 1000),
        )

    def _retrieval_only(
        self, hits: list[SearchHit], retrieve_ms: float, notice: str | None, lead: str = RETRIEVAL_ONLY, kind: AnswerKind = "retrieval_only"
    ) -> Answer:
        shown = hits[: self.policy.passages_when_offline]
        lines = [lead]
        for n, hit in enumerate(shown, 1):
            snippet = " ".join(hit.text.split())
            if len(snippet) > SNIPPET_CHARS:
                snippet = snippet[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
            lines.append(f"[{n}] {source_label(hit)}: \u201c{snippet}\u201d")
        return Answer(
            text="\n\n".join(lines),
            citations=[citation_for(n, hit) for n, hit in enumerate(shown, 1)],
            grounded=True,
            kind=kind,
            notice=notice,
            timings=Timings(retrieve_ms=retrieve_ms),
        )

