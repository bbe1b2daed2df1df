"""The server's request parsing: which message it answers, and which numbers it accepts."""
import pytest

from tiny_llm.serve import BadRequest, last_user_text, number


def test_answers_the_last_user_message_and_joins_text_parts() -> None:
    body = {"messages": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "x"},
                         {"role": "user", "content": [{"type": "text", "text": "What is "}, {"text": "1+2?"}]}]}
    assert last_user_text(body) == "What is 1+2?"


@pytest.mark.parametrize("body", [{}, {"messages": []}, {"messages": [{"role": "system", "content": "s"}]},
                                  {"messages": [{"role": "user", "content": 3}]}])
def test_a_request_without_a_usable_user_message_is_bad(body: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        last_user_text(body)


def test_numbers_are_range_checked_and_booleans_refused() -> None:
    assert number({}, "max_tokens", 16, 1, 4096, int) == 16
    assert number({"temperature": None}, "temperature", 0.0, 0.0, 10.0, float) == 0.0
    for bad in (0, 5000, True, "8"):
        with pytest.raises(BadRequest, match="'max_tokens' must be a number in"):
            number({"max_tokens": bad}, "max_tokens", 16, 1, 4096, int)
