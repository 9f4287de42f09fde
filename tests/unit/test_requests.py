"""Request validation rules that need no server: the identifier rule and its ASCII fast path."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.api.parse import _is_id, _is_id_character


@given(st.text(max_size=40))
def test_the_ascii_fast_path_decides_ids_exactly_as_the_general_rule(value: str) -> None:
    assert _is_id(value) == all(_is_id_character(c) for c in value)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_ascii_ids_are_printable_characters_without_spaces(value: str) -> None:
    assert _is_id(value) == all(33 <= ord(c) <= 126 for c in value)
