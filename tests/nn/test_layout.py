"""The layout language: the seed example, canonical printing, every error, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hepgan.errors import HepganError
from hepgan.nn.layout import (
    ACTIVATIONS, LayerSpec, LayoutError, NetworkLayout, format_gan_layout, format_layout,
    parse_gan_layout, parse_layout, parse_shape,
)

SEED = "CONV|12|2|2|1|1|TANH, MAXPOOL|6|6|1|1, RESHAPE|1|1|9408|FLAT, DENSE|512|TANH"
SEED_GAN = SEED + " ## DENSE|128|RELU, DENSE|1|SIGMOID"


def kinds_and_params(layout: NetworkLayout) -> list[tuple[str, dict]]:
    return [(spec.kind, spec.as_dict()) for spec in layout.layers]


def test_seed_example_parses_with_short_conv():
    layout = parse_layout(SEED)
    assert [s.kind for s in layout.layers] == ["CONV", "MAXPOOL", "RESHAPE", "DENSE"]
    assert layout.layers[0].as_dict() == {"depth": 12, "fh": 2, "fw": 2, "sh": 1, "sw": 1,
                                          "ph": 0, "pw": 0, "act": "TANH"}
    assert layout.layers[1].as_dict() == {"fh": 6, "fw": 6, "sh": 1, "sw": 1}
    assert layout.layers[2].as_dict() == {"depth": 1, "height": 1, "width": 9408, "flat": True}
    assert layout.layers[3]["units"] == 512
    assert format_layout(layout) == (
        "CONV|12|2|2|1|1|0|0|TANH, MAXPOOL|6|6|1|1, RESHAPE|1|1|9408|FLAT, DENSE|512|TANH")


def test_short_conv_takes_the_activation_the_user_wrote():
    # TMVA would read RELU as padding 0 and keep TANH; hepgan keeps RELU.
    assert parse_layout("CONV|12|2|2|1|1|RELU").layers[0]["act"] == "RELU"
    spec = parse_layout("CONV|8|3|3").layers[0]
    assert (spec["sh"], spec["sw"], spec["ph"], spec["pw"], spec["act"]) == (1, 1, 0, 0, "TANH")
    spec = parse_layout("conv|8|3|3|2|2|1|1").layers[0]
    assert (spec["sh"], spec["ph"], spec["act"]) == (2, 1, "TANH")


def test_seed_gan_layout_and_columns_index_the_whole_string():
    generator, discriminator = parse_gan_layout(SEED_GAN)
    assert len(generator.layers) == 4 and len(discriminator.layers) == 2
    first = discriminator.layers[0]
    assert SEED_GAN[first.column:first.column + len(first.text)] == "DENSE|128|RELU"
    assert format_gan_layout(generator, discriminator).count("##") == 1


def test_keywords_case_insensitive_whitespace_ignored_and_defaults_explicit():
    layout = parse_layout("  dense | 64 ,Bnorm,  act|leakyrelu : 0.1 ,LeakyReLU, reshape|flat ,"
                          " upsample|2|bilinear, minibatchstd, tconv|4|4|4|2|2|1|1|relu|1 ")
    assert format_layout(layout) == (
        "DENSE|64|TANH, BNORM|0.9|1e-05, ACT|LEAKYRELU:0.1, LEAKYRELU|0.2, RESHAPE|FLAT, "
        "UPSAMPLE|2|BILINEAR, MINIBATCHSTD|0, TCONV|4|4|4|2|2|1|1|RELU|1")
    assert parse_layout("DENSE|8|LEAKYRELU").layers[0]["act"] == "LEAKYRELU:0.2"


def test_equality_ignores_position_and_text():
    a = parse_layout("DENSE|8|RELU")
    b = parse_layout("   dense|8|relu")
    assert a == b and a.layers[0].column != b.layers[0].column
    assert a == NetworkLayout((LayerSpec("DENSE", (("units", 8), ("act", "RELU"))),))


def test_tmva_width_expressions_of_n_parse_and_print_back_unevaluated():
    layout = parse_layout("DENSE|(N+100)*2|TANH, DENSE|N, dense| ( n + 30 ) / 2 |relu, DENSE|N*2|RELU")
    assert [str(s["units"]) for s in layout.layers] == ["(N+100)*2", "N", "(N+30)/2", "N*2"]
    text = format_layout(layout)
    assert text == "DENSE|(N+100)*2|TANH, DENSE|N|TANH, DENSE|(N+30)/2|RELU, DENSE|N*2|RELU"
    assert parse_layout(text) == layout
    assert [s["units"].width(25) for s in layout.layers] == [250, 25, 27, 50]  # truncated, as TMVA does


def test_tmva_width_may_follow_the_activation_and_constant_expressions_fold():
    assert parse_layout("DENSE|TANH|N*2") == parse_layout("DENSE|N*2|TANH")
    assert parse_layout("DENSE|64*2|RELU").layers[0]["units"] == 128
    assert parse_layout("DENSE|-(2-10)").layers[0]["units"] == 8


@pytest.mark.parametrize(("text", "column", "token", "fragment"), [
    ("DENSE|N+*2", 8, "*", "unexpected '*'"),
    ("DENSE|(N+2|RELU", 10, " ", "missing ')'"),
    ("DENSE|N+2)|RELU", 9, ")", "unexpected ')'"),
    ("DENSE|N^2", 7, "^", "only numbers, N, + - * / and parentheses"),
    ("DENSE|sqrt(N)", 6, "s", "unexpected 's'"),
    ("DENSE|N*", 8, " ", "ends too early"),
    ("DENSE|2-3", 6, "2-3", "is -1, not a positive integer"),
    ("DENSE|7/2", 6, "7/2", "is 3.5, not a positive integer"),
    ("DENSE|1/0", 6, "1/0", "is inf, not a positive integer"),
])
def test_a_malformed_width_expression_points_at_the_token(text, column, token, fragment):
    with pytest.raises(LayoutError) as info:
        parse_layout(text)
    assert info.value.column == column and fragment in str(info.value)
    assert info.value.token == token


def test_parse_shape():
    assert parse_shape("1|28|28") == (1, 28, 28)
    assert parse_shape(" 256 | 784 ") == (256, 784)


def caret(text: str, column: int, width: int) -> str:
    return f"  {text}\n  {' ' * column}{'^' * width}"


# (layout, parser, column, token, fragments of the message)
ERRORS = [
    ("DENS|64|RELU, DENSE|1|SIGMOID", parse_layout, 0, "DENS",
     ["unknown layer type 'DENS' at column 0", "did you mean DENSE?", "known: ACT, BNORM, CONCAT"]),
    ("DENSE|64|RELU, MAXPOL|2|2", parse_layout, 15, "MAXPOL", ["did you mean MAXPOOL?"]),
    ("|64|RELU", parse_layout, 0, "", ["missing layer type"]),
    ("", parse_layout, 0, "", ["empty layout"]),
    ("   ", parse_layout, 0, "", ["empty layout"]),
    ("DENSE|64, ,DENSE|1", parse_layout, 9, "", ["empty layer at column 9"]),
    ("DENSE|64,", parse_layout, 9, "", ["empty layer"]),
    ("DENSE|64|RELLU", parse_layout, 9, "RELLU",
     ["unknown activation 'RELLU'", "did you mean RELU?", "known: ELU, EXP"]),
    ("CONV|12|2|2|1|1|0|0|TANHH", parse_layout, 20, "TANHH", ["unknown activation", "TANH?"]),
    ("ACT|RELU:0.1", parse_layout, 4, "RELU:0.1", ["takes no parameter"]),
    ("DENSE|8|LEAKYRELU:-1", parse_layout, 8, "LEAKYRELU:-1", ["slope must be a non-negative"]),
    ("DENSE|64|RELU|3", parse_layout, 14, "3",
     ["too many fields for DENSE", "expected DENSE|units|ACT"]),
    ("DENSE", parse_layout, 0, "DENSE", ["too few fields for DENSE"]),
    ("CONV|12|2", parse_layout, 0, "CONV|12|2",
     ["too few fields for CONV", "expected CONV|depth|fh|fw|sh|sw|ph|pw|ACT"]),
    ("CONV|12|2|2|1|1|0|0|RELU|3", parse_layout, 25, "3", ["too many fields for CONV"]),
    ("CONV|12|2|2|1|TANH", parse_layout, 12, "1", ["come in pairs"]),
    ("CONV|12|2|2|1|1|0|0|0|TANH", parse_layout, 20, "0", ["too many integer fields"]),
    ("MAXPOOL|2|2|2", parse_layout, 12, "2", ["come as a pair"]),
    ("LAYERNORM|3", parse_layout, 10, "3", ["too many fields for LAYERNORM"]),
    ("DENSE|abc|RELU", parse_layout, 6, "abc", ["field 'units' of DENSE must be a positive integer"]),
    ("DENSE|0|RELU", parse_layout, 6, "0", ["positive integer, got '0'"]),
    ("DENSE|-3", parse_layout, 6, "-3", ["positive integer, got '-3'"]),
    ("DENSE|2.5", parse_layout, 6, "2.5", ["positive integer"]),
    ("DENSE|99999999999999", parse_layout, 6, "99999999999999", ["too large"]),
    ("CONV|4|3|3|1|1|-1|0", parse_layout, 15, "-1", ["'ph' of CONV must be a non-negative integer"]),
    ("CONV|4|3|3|0|1", parse_layout, 11, "0", ["'sh' of CONV must be a positive integer"]),
    ("TCONV|4|3|3|2|2|1|1|RELU|2", parse_layout, 25, "2", ["smaller than both strides"]),
    ("RESHAPE|1|1", parse_layout, 0, "RESHAPE|1|1", ["too few fields for RESHAPE"]),
    ("RESHAPE|1|1|9|FLOT", parse_layout, 14, "FLOT", ["can only be FLAT"]),
    ("DROPOUT|1.5", parse_layout, 8, "1.5", ["'p' of DROPOUT must be in [0, 1)"]),
    ("DROPOUT|1", parse_layout, 8, "1", ["must be in [0, 1)"]),
    ("DROPOUT|x", parse_layout, 8, "x", ["must be a number"]),
    ("DROPOUT|1e999", parse_layout, 8, "1e999", ["must be finite"]),
    ("BNORM|1.5", parse_layout, 6, "1.5", ["momentum"]),
    ("BNORM|0.9|0", parse_layout, 10, "0", ["'eps' of BNORM must be positive"]),
    ("UPSAMPLE|2|CUBIC", parse_layout, 11, "CUBIC", ["unknown UPSAMPLE mode"]),
    ("DENSE|8 ## DENSE|1", parse_layout, 8, "##", ["'##' in a single network", "parse_gan_layout"]),
    ("DENSE|8, DENSE|1", parse_gan_layout, 0, "DENSE|8, DENSE|1", ["no '##' in a GAN layout"]),
    ("DENSE|8 ## DENSE|1 ## DENSE|1", parse_gan_layout, 19, "##", ["more than one '##'"]),
    ("DENSE|8 ##  ", parse_gan_layout, 10, "", ["empty layout"]),
    ("DENSE|8 ## DENSE|x", parse_gan_layout, 17, "x", ["'units' of DENSE"]),
    ("1|0|28", parse_shape, 2, "0", ["positive integers"]),
    ("1||28", parse_shape, 2, "", ["positive integers"]),
    ("", parse_shape, 0, "", ["empty shape"]),
]


@pytest.mark.parametrize(("text", "parser", "column", "token", "fragments"), ERRORS,
                         ids=[e[0] or "<empty>" for e in ERRORS])
def test_errors_point_at_the_token(text, parser, column, token, fragments):
    with pytest.raises(LayoutError) as info:
        parser(text)
    error = info.value
    assert isinstance(error, HepganError)
    assert (error.column, error.token) == (column, token)
    assert text[column:column + len(token)] == token
    message = str(error)
    for fragment in fragments:
        assert fragment in message
    assert message.endswith(caret(text, column, max(1, min(len(token), len(text) - column))))
    assert f"at column {column}" in message.splitlines()[0]


def test_caret_line_under_a_multiline_layout():
    text = "DENSE|8,\nDENSE|x"
    with pytest.raises(LayoutError) as info:
        parse_layout(text)
    assert info.value.column == 15
    assert str(info.value).endswith("  DENSE|x\n        ^")


# ---------------------------------------------------------------- property tests

def random_case(draw, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.lower() if f else c.upper() for c, f in zip(word, flips))


SPACE = st.sampled_from(["", " ", "  ", "\t"])
POS = st.integers(1, 64)


def written_float(draw, value: float, fixed: bool = True) -> str:
    forms = [repr(value), f"{value:e}"] + ([f"{value:.3f}"] if fixed else [])
    return draw(st.sampled_from(forms))


@st.composite
def activations(draw):
    """(written, canonical) activation."""
    name = draw(st.sampled_from(ACTIVATIONS))
    written = random_case(draw, name)
    if name != "LEAKYRELU":
        return written, name
    if draw(st.booleans()):
        return written, "LEAKYRELU:0.2"
    slope = written_float(draw, draw(st.floats(0, 2)))
    return f"{written}:{slope}", f"LEAKYRELU:{float(slope)!r}"


@st.composite
def layers(draw):
    """(written fields, canonical fields) of one random valid layer."""
    kind = draw(st.sampled_from(["DENSE", "CONV", "TCONV", "MAXPOOL", "RESHAPE", "BNORM",
                                 "LAYERNORM", "VBN", "UPSAMPLE", "DROPOUT", "LEAKYRELU", "ACT",
                                 "EMBED", "CONCAT", "MINIBATCHSTD"]))
    head = random_case(draw, kind)
    if kind == "DENSE":
        units = draw(POS)
        if draw(st.booleans()):
            act = draw(activations())
            return [head, str(units), act[0]], [kind, str(units), act[1]]
        return [head, str(units)], [kind, str(units), "TANH"]
    if kind in ("CONV", "TCONV"):
        first = [str(draw(POS)) for _ in range(3)]
        strides = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
        pads = [draw(st.integers(0, 3)), draw(st.integers(0, 3))]
        n = draw(st.sampled_from([0, 2, 4]))
        numbers = [str(v) for v in strides + pads][:n]
        canon_numbers = [str(v) for v in (strides if n >= 2 else [1, 1]) + (pads if n == 4 else [0, 0])]
        written, canon = [head, *first, *numbers], [kind, *first, *canon_numbers]
        has_act = draw(st.booleans())
        if has_act:
            act = draw(activations())
            written.append(act[0])
            canon.append(act[1])
        else:
            canon.append("TANH")
        if kind == "TCONV":
            stride = min(strides) if n >= 2 else 1
            op = draw(st.integers(0, stride - 1))
            if has_act and draw(st.booleans()):
                written.append(str(op))
            else:
                op = 0
            canon.append(str(op))
        return written, canon
    if kind == "MAXPOOL":
        size = [str(draw(POS)), str(draw(POS))]
        if draw(st.booleans()):
            strides = [str(draw(POS)), str(draw(POS))]
            return [head, *size, *strides], [kind, *size, *strides]
        return [head, *size], [kind, *size, "1", "1"]
    if kind == "RESHAPE":
        flat = random_case(draw, "FLAT")
        form = draw(st.sampled_from(["dims", "dims+flat", "flat"]))
        if form == "flat":
            return [head, flat], [kind, "FLAT"]
        dims = [str(draw(POS)) for _ in range(3)]
        if form == "dims":
            return [head, *dims], [kind, *dims]
        return [head, *dims, flat], [kind, *dims, "FLAT"]
    if kind == "BNORM":
        n = draw(st.integers(0, 2))
        momentum = written_float(draw, draw(st.floats(0, 0.999)))
        eps = written_float(draw, draw(st.floats(1e-8, 1e-2)), fixed=False)
        written = [head, momentum, eps][:n + 1]
        canon = [kind, repr(float(momentum)) if n >= 1 else "0.9", repr(float(eps)) if n == 2 else "1e-05"]
        return written, canon
    if kind in ("LAYERNORM", "VBN", "CONCAT"):
        return [head], [kind]
    if kind == "UPSAMPLE":
        factor = str(draw(st.integers(1, 4)))
        if draw(st.booleans()):
            mode = draw(st.sampled_from(["NEAREST", "BILINEAR"]))
            return [head, factor, random_case(draw, mode)], [kind, factor, mode]
        return [head, factor], [kind, factor, "NEAREST"]
    if kind == "DROPOUT":
        p = written_float(draw, draw(st.floats(0, 0.9)))
        return [head, p], [kind, repr(float(p))]
    if kind == "LEAKYRELU":
        if draw(st.booleans()):
            slope = written_float(draw, draw(st.floats(0, 1)))
            return [head, slope], [kind, repr(float(slope))]
        return [head], [kind, "0.2"]
    if kind == "ACT":
        act = draw(activations())
        return [head, act[0]], [kind, act[1]]
    if kind == "EMBED":
        sizes = [str(draw(POS)), str(draw(POS))]
        return [head, *sizes], [kind, *sizes]
    group = draw(st.integers(0, 8))
    if draw(st.booleans()):
        return [head, str(group)], [kind, str(group)]
    return [head], [kind, "0"]


@st.composite
def layouts(draw):
    """(written layout, canonical layout) with random case and whitespace."""
    written, canon = [], []
    for fields, canonical in draw(st.lists(layers(), min_size=1, max_size=6)):
        written.append("|".join(draw(SPACE) + f + draw(SPACE) for f in fields))
        canon.append("|".join(canonical))
    separators = [draw(SPACE) + "," + draw(SPACE) for _ in written[1:]]
    text = draw(SPACE) + written[0] + "".join(s + w for s, w in zip(separators, written[1:]))
    return text + draw(SPACE), ", ".join(canon)


@settings(max_examples=300, deadline=None)
@given(layouts())
def test_random_valid_layouts_round_trip(case):
    text, canonical = case
    layout = parse_layout(text)
    assert format_layout(layout) == canonical
    again = parse_layout(format_layout(layout))
    assert again == layout
    assert kinds_and_params(again) == kinds_and_params(layout)


@settings(max_examples=60, deadline=None)
@given(layouts(), layouts())
def test_random_gan_layouts_round_trip(g, d):
    generator, discriminator = parse_gan_layout(f"{g[0]}##{d[0]}")
    assert (format_layout(generator), format_layout(discriminator)) == (g[1], d[1])
    assert parse_gan_layout(format_gan_layout(generator, discriminator)) == (generator, discriminator)


GRAMMAR_TEXT = st.text(alphabet="DENSECONV|,#0123456789 .-", max_size=60)


def only_layout_errors(text: str) -> None:
    for parser in (parse_layout, parse_gan_layout, parse_shape):
        try:
            result = parser(text)
        except LayoutError as error:
            assert 0 <= error.column <= len(text)
            assert text[error.column:error.column + len(error.token)] == error.token
            continue
        if parser is parse_layout:
            assert isinstance(result, NetworkLayout) and result.layers
            assert parse_layout(format_layout(result)) == result
        elif parser is parse_gan_layout:
            assert all(isinstance(half, NetworkLayout) for half in result)
        else:
            assert all(isinstance(n, int) and n > 0 for n in result)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_raises_only_layout_errors(text):
    only_layout_errors(text)


@settings(max_examples=500, deadline=None)
@given(GRAMMAR_TEXT)
def test_grammar_alphabet_text_raises_only_layout_errors(text):
    only_layout_errors(text)
