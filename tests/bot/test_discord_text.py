"""Discord's syntax in a question becomes what a reader sees, and nothing else of the question changes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord_text import plain_question

BOT_ID = 1000


@pytest.mark.parametrize(
    "typed, plain",
    [
        (f"<@{BOT_ID}> what did Baqeri propose?", "what did Baqeri propose?"),
        (f"<@!{BOT_ID}>   ", ""),
        ("what did <@42> say?", "what did   say?"),  # an unknown user: dropped, not searched as digits
        ("what happened on <t:1701820800:D>?", "what happened on 2023-12-06?"),
        ("what happened on<t:1701820800:D>to Baqeri?", "what happened on 2023-12-06 to Baqeri?"),
        ("news from <t:99999999999999999999>?", "news from  ?"),  # out of range: dropped
        ("is </ask:123> better than <a:party:456>?", "is /ask better than :party:?"),
        ("||spoiler|| __under__ ~~gone~~ **bold** ***both*** *it* _it_", "spoiler under gone bold both it it"),
        ("what about 2*3*4, snake_case, C++ and C#?", "what about 2*3*4, snake_case, C++ and C#?"),
        ("see [the report](https://example.org/r) and [x](<https://a.b/c>)", "see the report and x"),
        ("> quoted\n# heading\n-# small\n- item", "quoted\nheading\nsmall\nitem"),
        ("`code` and ```py\nprint(1)\n```", "code  and  print(1)"),
        (r"\*not bold\* and \_not italic\_ and \\", "*not bold* and _not italic_ and \\"),
        ("what about @everyone and @here?", "what about @everyone and @here?"),  # plain words; replies never ping
    ],
)
def test_discord_syntax_becomes_what_a_reader_sees(typed: str, plain: str) -> None:
    assert plain_question(typed, None, BOT_ID) == plain


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.text(st.characters(exclude_categories=()), max_size=5)
        | st.sampled_from(["<@1>", "<#2>", "<t:9>", "**", "||", "__", "`", "```", "\\", "[a](https://b.c)", "\n> "])
    ).map("".join)
)
def test_any_text_converts_without_error(text: str) -> None:
    assert isinstance(plain_question(text, None, BOT_ID), str)
