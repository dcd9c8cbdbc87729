"""Text hygiene shared by all readers: whitespace, paragraphs, HTML fragments to paragraphs.

Paragraph text is otherwise kept verbatim (quotes and other Unicode untouched), because
excerpts are quoted from it later.
"""

from __future__ import annotations

import lxml.html

# Elements whose content stands as its own paragraph when an HTML fragment becomes text.
BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "blockquote",
        "pre",
        "table",
        "tr",
        "section",
        "article",
        "figcaption",
        "dd",
        "dt",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
    }
)
DROPPED_TAGS = ("script", "style")
PARAGRAPH_BREAK = "\n\n"


def collapse_whitespace(text: str) -> str:
    """Turn every run of whitespace (including newlines and no-break spaces) into one space."""
    return " ".join(text.split())


def split_paragraphs(text: str) -> list[str]:
    """Split on blank lines; lines inside a paragraph are joined with single spaces."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append(collapse_whitespace(" ".join(current)))
            current = []
    if current:
        paragraphs.append(collapse_whitespace(" ".join(current)))
    return paragraphs


def html_to_paragraphs(markup: str) -> list[str]:
    """The visible text of an HTML fragment (e.g. a feed entry), one paragraph per block element."""
    if not markup.strip():
        return []
    root = lxml.html.fragment_fromstring(markup, create_parent="div")
    for unwanted in root.iter(*DROPPED_TAGS):
        unwanted.drop_tree()
    for element in root.iter():
        if element.tag in BLOCK_TAGS:
            element.text = PARAGRAPH_BREAK + (element.text or "")
            element.tail = PARAGRAPH_BREAK + (element.tail or "")
        elif element.tag == "br":  # a line break; two in a row separate paragraphs
            element.tail = "\n" + (element.tail or "")
    return split_paragraphs(root.text_content())


def without_title_heading(paragraphs: list[str], title: str) -> list[str]:
    """Drop a first paragraph that only repeats the title (optionally as a "# Title" heading)."""
    if paragraphs and same_text(paragraphs[0].lstrip("#").strip(), title):
        return paragraphs[1:]
    return paragraphs


def same_text(first: str, second: str) -> bool:
    return bool(first) and collapse_whitespace(first).casefold() == collapse_whitespace(second).casefold()
