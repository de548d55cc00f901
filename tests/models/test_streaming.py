import pytest

from models.engines._streaming import StopMatcher


@pytest.mark.parametrize(
    ("stops", "pieces", "expected", "stopped"),
    [
        ((), ["ab", "cd"], "abcd", False),
        (("END",), ["hello E", "N", "D tail"], "hello ", True),
        (("END",), ["hello E", "NX"], "hello ENX", False),
        (("\n\n",), ["a\n", "\nb"], "a", True),
        (("xy", "yz"), ["ay", "z"], "a", True),
        (("abc",), ["ab"], "", False),  # held back until it cannot be a stop sequence
    ],
)
def test_stop_matcher(stops, pieces, expected, stopped):
    matcher = StopMatcher(stops)
    out, hit = "", False
    for piece in pieces:
        text, hit = matcher.feed(piece)
        out += text
        if hit:
            break
    assert hit is stopped
    if expected == "" and not stopped:
        assert matcher.flush() == "ab"
    else:
        assert out == expected
