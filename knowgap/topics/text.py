"""Question text helpers: HTML to text, normalization/hashing, and an offline topic phrase.

Pure computation, no I/O. Canvas ``question_text`` is HTML written in the rich-content editor,
so the same question looks different depending on who pasted it where (``<p>`` wrappers,
``&nbsp;``, curly quotes). Everything that keys on a question (the topic/video cache, the
question-bank duplicate check, matching questions across courses on import) goes through
:func:`normalize_question_text` / :func:`question_hash` so those cosmetic differences do not
cause cache misses or failed matches.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from html.parser import HTMLParser

__all__ = ["html_to_text", "normalize_question_text", "question_hash", "fallback_topic"]

# Elements whose text is never content.
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template"})
# Elements that separate words; without a space "<p>a</p><p>b</p>" would become "ab".
_BREAK_TAGS = frozenset({
    "br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "table", "thead", "tbody",
    "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "section", "article",
    "header", "footer", "hr", "dd", "dt", "dl", "figure", "figcaption", "img",
})


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP_TAGS:
            self._skip += 1
            return
        if tag in _BREAK_TAGS:
            self.parts.append(" ")
        if tag == "img" and not self._skip:
            # Canvas' equation editor stores math as an image; its LaTeX is the question's
            # content ("Solve x^2 = 4"), so keep it.
            a = dict(attrs)
            latex = a.get("data-equation-content")
            if not latex and "equation_image" in (a.get("class") or ""):
                latex = a.get("alt") or a.get("title")
                if latex and latex.lower().startswith("latex:"):
                    latex = latex[6:]
            if latex:
                self.parts.append(f" {latex.strip()} ")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)

    def handle_endtag(self, tag):
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BREAK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(html) -> str:
    """Visible text of an HTML fragment: tags dropped, entities unescaped, script/style
    removed, block elements separating words, whitespace (incl. ``&nbsp;``) collapsed.
    Plain text passes through (only whitespace is collapsed). None -> ""."""
    if not html:
        return ""
    parser = _TextExtractor()
    parser.feed(str(html))
    parser.close()
    return " ".join("".join(parser.parts).split())


_LOOKS_LIKE_HTML = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " ",
})


def _is_edge_junk(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "PS"


def normalize_question_text(text) -> str:
    """Canonical form of a question for keys and matching.

    HTML (if the text looks like HTML) is reduced to text, Unicode is NFKC-normalized, curly
    quotes and dashes become ASCII, everything is lower-cased, whitespace collapsed, and
    punctuation/symbols stripped from both ends ("What is X?" == "what is x"). Inner
    punctuation is kept because it can change meaning ("2.5" vs "25", "f(x)").
    """
    if not text:
        return ""
    text = str(text)
    if _LOOKS_LIKE_HTML.search(text):
        text = html_to_text(text)
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    text = " ".join(text.split())
    start, end = 0, len(text)
    while start < end and _is_edge_junk(text[start]):
        start += 1
    while end > start and _is_edge_junk(text[end - 1]):
        end -= 1
    return text[start:end]


def question_hash(text) -> str:
    """SHA-256 hex digest of :func:`normalize_question_text` (UTF-8)."""
    return hashlib.sha256(normalize_question_text(text).encode("utf-8")).hexdigest()


# --- offline topic phrase ----------------------------------------------------------------------

# Function words plus question scaffolding ("which of the following", "explain why") that says
# nothing about the topic. Kept inline and small on purpose.
_STOP = frozenset("""
a an the and or nor but if then else so than that this these those there here of to in on at
by for with from into onto over under about as is are was were be been being am do does did
done have has had having it its it's they them their he she him her his hers we us our you
your i me my mine not no yes can could would should will shall may might must what which who
whom whose when where why how all any each every some such more most other another same own
only very also just both either neither one two three first second following true
false statement statements best correct incorrect answer answers question questions choose
select identify describe explain define list name give state find determine calculate compute
show write use using used consider suppose assume given let below above example examples
mean means meant doesn't isn't aren't between among within without
always never often usually typically called term terms type types kind kinds way ways many
describes explains defines lists names identifies solve solves discuss discusses briefly according happens happen occurs occur
much few several get gets got make makes made take takes like e.g i.e etc whether while during
because since until after before again further once out up down off
""".split())

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-+#]*")


def _candidate_phrases(text: str) -> list[list[str]]:
    """RAKE-style candidates: maximal runs of content words between stop words/punctuation."""
    phrases: list[list[str]] = []
    current: list[str] = []
    for chunk in re.split(r"([.,;:!?()\[\]{}\"\\|<>=*]|\s)", text.lower()):
        if not chunk or chunk.isspace():
            continue
        if not _WORD.fullmatch(chunk) or chunk in _STOP or chunk.strip("'-") in _STOP:
            if current:
                phrases.append(current)
                current = []
            continue
        word = chunk.strip("'-")
        if len(word) < 2 and not word.isdigit():
            if current:
                phrases.append(current)
                current = []
            continue
        current.append(word)
    if current:
        phrases.append(current)
    return phrases


def fallback_topic(question_text) -> str:
    """A short (2–5 word) key phrase for a question, used as topic/YouTube query when no AI
    is available.

    Candidates are runs of content words (RAKE: stop words and punctuation split phrases),
    scored by the sum over their words of degree/frequency, the classic RAKE score, which
    favours multi-word technical phrases ("binary search tree") over lone common words.
    Phrases are taken best-first until the topic has at least 3 words (never more than 5),
    then put back in question order: "What is the time complexity of binary search?" ->
    "time complexity binary search". Lower-case. A question with a single content word gives
    that word; one with no candidate phrase gives its first words; empty input gives "".
    """
    text = html_to_text(question_text)
    phrases = [p for p in _candidate_phrases(text) if not all(w.isdigit() for w in p)]
    if not phrases:
        words = [w.strip(".,;:!?\"'()") for w in normalize_question_text(text).split()]
        return " ".join([w for w in words if any(ch.isalnum() for ch in w)][:5])
    freq: dict[str, int] = {}
    degree: dict[str, int] = {}
    for p in phrases:
        for w in p:
            freq[w] = freq.get(w, 0) + 1
            degree[w] = degree.get(w, 0) + len(p)
    ranked = sorted(
        range(len(phrases)),
        key=lambda i: (-sum(degree[w] / freq[w] for w in phrases[i][:5]), i),
    )
    chosen: list[int] = []
    used: set[str] = set()
    count = 0
    for i in ranked:
        new = [w for w in phrases[i][:5] if w not in used]
        if not new:
            continue
        if chosen and count + len(new) > 5:
            continue
        chosen.append(i)
        used.update(new)
        count += len(new)
        if count >= 3:
            break
    words: list[str] = []
    for i in sorted(chosen):
        for w in phrases[i]:
            if w not in words and len(words) < 5:
                words.append(w)
    return " ".join(words)
