"""The network layout language: TMVA's layout strings plus hepgan's extensions.

A layout is one string per network, layers separated by ``,`` and fields by ``|``; a GAN's
generator and discriminator layouts are joined by ``##``::

    CONV|12|2|2|1|1|TANH, MAXPOOL|6|6|1|1, RESHAPE|1|1|9408|FLAT, DENSE|512|TANH ## DENSE|128|RELU, DENSE|1|SIGMOID

Whitespace around tokens is ignored and keywords (layer types, activations, ``FLAT``,
``NEAREST``...) are case-insensitive; :func:`format_layout` prints the canonical form
(upper case, ``", "`` between layers, every field explicit), and parsing that form gives the
same layers back. Layer types and their fields (``[...]`` is optional, with its default)::

    DENSE|units[|ACT=TANH]             units: an integer or an expression of N (below)
    CONV|depth|fh|fw[|sh|sw=1|1][|ph|pw=0|0][|ACT=TANH]
    TCONV|depth|fh|fw[|sh|sw=1|1][|ph|pw=0|0][|ACT=TANH[|op=0]]   transposed convolution
    MAXPOOL|fh|fw[|sh|sw=1|1]
    RESHAPE|d|h|w[|FLAT]   or   RESHAPE|FLAT
    BNORM[|momentum=0.9[|eps=1e-05]]
    LAYERNORM      VBN      CONCAT
    UPSAMPLE|factor[|NEAREST|BILINEAR=NEAREST]
    DROPOUT|p                          0 <= p < 1
    LEAKYRELU[|slope=0.2]              standalone activation layer
    ACT|NAME                           standalone activation layer
    EMBED|n_classes|dim                embeds an integer class index
    MINIBATCHSTD[|group=0]             0 = the whole batch is one group

Activations: RELU, TANH, SIGMOID, LINEAR, SYMMRELU (|x|), SOFTSIGN, GAUSS (exp(-x^2)), and
hepgan's LEAKYRELU, SWISH (x*sigmoid(beta*x), beta trainable per layer), ELU, SOFTPLUS, EXP.
A leaky ReLU's slope is written ``LEAKYRELU:0.1`` wherever an activation goes (default 0.2).

As in TMVA, a DENSE width may be an expression of ``N``, the number of inputs of the network
(the latent size of a generator, the cells or pixels of a critic): ``DENSE|(N+100)*2|TANH``,
``DENSE|N|RELU``, ``DENSE|(N+30)/2``. The expression is checked when the layout is parsed and
evaluated when the network is built, like TMVA's (in floating point, truncated toward zero); a
width below 1 is an error that points at the expression. ``format_layout`` prints it back
unevaluated (no spaces, ``N`` upper case). What TMVA's TFormula offers beyond ``+ - * / ( )``,
numbers and ``N`` (functions such as ``sqrt``, ``^``) is not accepted.

Decisions worth knowing (they differ from, or are not covered by, TMVA):

* Short CONV. Strides and paddings come in (h, w) pairs and may be left off: missing strides
  are 1, missing padding is 0, and the first non-numeric field is the activation. So TMVA's
  MethodGAN example ``CONV|12|2|2|1|1|TANH`` is strides 1|1, padding 0|0, TANH. TMVA reads the padding
  slot positionally, atoi()s ``TANH`` to padding 0 and keeps its default TANH, so it silently
  ignores e.g. ``CONV|12|2|2|1|1|RELU``'s RELU; hepgan uses the activation the user wrote.
* TCONV's output padding ``op`` (one value for both dimensions, smaller than both strides) is
  an optional integer after the activation, so the first nine fields read like CONV's.
* MAXPOOL's missing strides are 1, as in CONV (not PyTorch's stride = kernel size).
* BNORM's momentum is TMVA's / Keras' (the weight of the old running average; PyTorch's
  momentum is 1 - it); -1 means a cumulative average, as in TMVA. The defaults are PyTorch's.
* A DENSE width that comes to 0 is an error (TMVA makes it 1). A DENSE layer may name its
  activation first (``DENSE|TANH|N*2``), as TMVA allows; it prints width first.
* Nothing is ever skipped: every malformed layer is a :class:`LayoutError` that names the
  column and the token, says what was expected and shows the string with a caret line.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hepgan.errors import HepganError

ACTIVATIONS = (
    "RELU", "TANH", "SIGMOID", "LINEAR", "SYMMRELU", "SOFTSIGN", "GAUSS",
    "LEAKYRELU", "SWISH", "ELU", "SOFTPLUS", "EXP",
)
DEFAULT_ACTIVATION = "TANH"
DEFAULT_LEAKY_SLOPE = 0.2
DEFAULT_BNORM_MOMENTUM = 0.9
DEFAULT_BNORM_EPS = 1e-5
UPSAMPLE_MODES = ("NEAREST", "BILINEAR")
# Larger integers are typos, and bounding them keeps int() away from Python's digit limit.
MAX_INT = 2**31 - 1

FORMS: dict[str, str] = {
    "ACT": "ACT|NAME",
    "BNORM": "BNORM|momentum|eps",
    "CONCAT": "CONCAT",
    "CONV": "CONV|depth|fh|fw|sh|sw|ph|pw|ACT",
    "DENSE": "DENSE|units|ACT",
    "DROPOUT": "DROPOUT|p",
    "EMBED": "EMBED|n_classes|dim",
    "LAYERNORM": "LAYERNORM",
    "LEAKYRELU": "LEAKYRELU|slope",
    "MAXPOOL": "MAXPOOL|fh|fw|sh|sw",
    "MINIBATCHSTD": "MINIBATCHSTD|group",
    "RESHAPE": "RESHAPE|d|h|w[|FLAT] or RESHAPE|FLAT",
    "TCONV": "TCONV|depth|fh|fw|sh|sw|ph|pw|ACT|op",
    "UPSAMPLE": "UPSAMPLE|factor|NEAREST or UPSAMPLE|factor|BILINEAR",
    "VBN": "VBN",
}
LAYER_KINDS = tuple(sorted(FORMS))

_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NUMERIC_START = re.compile(r"[+-]?[0-9.]")


class LayoutError(HepganError):
    """A layout string that cannot be parsed or built: where, what, and what was expected.

    ``column`` is the 0-based index of ``token`` in ``text`` (the original string); the
    message ends with that string and a caret line under the token.
    """

    def __init__(self, problem: str, *, text: str, column: int, token: str, detail: str = ""):
        self.problem = problem
        self.text = text
        self.column = column
        self.token = token
        super().__init__(f"{problem} at column {column}{detail}\n{caret_lines(text, column, len(token))}")


def caret_lines(text: str, column: int, width: int) -> str:
    """``text`` (the line holding ``column``) and a caret line under ``width`` characters."""
    start = text.rfind("\n", 0, column) + 1
    end = text.find("\n", column)
    line = text[start:] if end < 0 else text[start:end]
    rel = column - start
    # One display character per source character keeps the caret aligned.
    shown = "".join(" " if ch.isspace() or not ch.isprintable() else ch for ch in line)
    width = max(1, min(width, len(line) - rel))
    return f"  {shown}\n  {' ' * rel}{'^' * width}"


_EXPR_TOKEN = re.compile(r"\s*(?:([0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)|([Nn])|([-+*/()]))")


@dataclass(frozen=True)
class WidthExpression:
    """A DENSE width written as an expression of N, the network's number of inputs (TMVA's form).

    ``text`` is the canonical form (no spaces, ``N`` upper case); ``source`` and ``column`` say
    where it was written, for errors, and take no part in equality.
    """

    text: str
    source: str = field(default="", compare=False)
    column: int = field(default=-1, compare=False)

    def __str__(self) -> str:
        return self.text

    def value(self, n: int) -> float:
        """The expression at N = ``n``, in floating point (inf or nan after a division by zero)."""
        return _Expression(self.text).evaluate(float(n))

    def width(self, n: int) -> int:
        """The width for ``n`` inputs: the value truncated toward zero, as TMVA does (may be < 1)."""
        value = self.value(n)
        return int(value) if math.isfinite(value) and abs(value) <= MAX_INT else -1


class _Expression:
    """Recursive descent over ``+ - * / ( )``, numbers and N; ``error`` gets (message, offset)."""

    def __init__(self, text: str):
        self.tokens: list[tuple[str, int]] = []  # (token, offset in text)
        at = 0
        while at < len(text):
            if text[at:].strip() == "":
                break
            match = _EXPR_TOKEN.match(text, at)
            if not match:
                offset = at + len(text[at:]) - len(text[at:].lstrip())
                raise _ExpressionError(f"unexpected {text[offset]!r} in an expression of N "
                                       "(only numbers, N, + - * / and parentheses)", offset)
            token = match.group(1) or match.group(2) or match.group(3)
            self.tokens.append((token.upper() if match.group(2) else token, match.end() - len(token)))
            at = match.end()
        self.end = len(text)
        self.pos = 0
        self.n = 1.0

    def canonical(self) -> str:
        self.parse()
        return "".join(token for token, _ in self.tokens)

    def evaluate(self, n: float) -> float:
        self.n = n
        return self.parse()

    def parse(self) -> float:
        self.pos = 0
        if not self.tokens:
            raise _ExpressionError("empty expression", 0)
        value = self.sum()
        if self.pos < len(self.tokens):
            token, offset = self.tokens[self.pos]
            raise _ExpressionError(f"unexpected {token!r} in an expression of N", offset)
        return value

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def sum(self) -> float:
        value = self.product()
        while self.peek() in ("+", "-"):
            op = self.tokens[self.pos][0]
            self.pos += 1
            right = self.product()
            value = value + right if op == "+" else value - right
        return value

    def product(self) -> float:
        value = self.unary()
        while self.peek() in ("*", "/"):
            op = self.tokens[self.pos][0]
            self.pos += 1
            right = self.unary()
            if op == "*":
                value *= right
            else:
                value = value / right if right else math.copysign(math.inf, value) if value else math.nan
        return value

    def unary(self) -> float:
        if self.peek() in ("+", "-"):
            sign = -1.0 if self.tokens[self.pos][0] == "-" else 1.0
            self.pos += 1
            return sign * self.unary()
        return self.atom()

    def atom(self) -> float:
        if self.pos >= len(self.tokens):
            raise _ExpressionError("the expression of N ends too early", self.end)
        token, offset = self.tokens[self.pos]
        self.pos += 1
        if token == "(":
            value = self.sum()
            if self.peek() != ")":
                where = self.tokens[self.pos][1] if self.pos < len(self.tokens) else self.end
                raise _ExpressionError("missing ')' in an expression of N", where)
            self.pos += 1
            return value
        if token == "N":
            return self.n
        if token in "+-*/)":
            raise _ExpressionError(f"unexpected {token!r} in an expression of N", offset)
        return float(token)


class _ExpressionError(Exception):
    def __init__(self, problem: str, offset: int):
        super().__init__(problem)
        self.problem, self.offset = problem, offset


@dataclass(frozen=True)
class LayerSpec:
    """One parsed layer: its kind and its fully explicit parameters, in canonical order.

    ``column`` and ``text`` say where the layer was written (for error messages) and take no
    part in equality, so a layout equals its re-parsed canonical form.
    """

    kind: str
    params: tuple[tuple[str, Any], ...]
    column: int = field(default=0, compare=False)
    text: str = field(default="", compare=False)

    def __getitem__(self, name: str) -> Any:
        for key, value in self.params:
            if key == name:
                return value
        raise KeyError(f"{self.kind} has no parameter {name!r}")

    def as_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def __str__(self) -> str:
        return format_layer(self)


@dataclass(frozen=True)
class NetworkLayout:
    """A parsed network: its layers in order.

    ``text`` is the string the layout was parsed from (for a GAN half, the whole GAN string,
    so that the layers' columns stay valid); it takes no part in equality.
    """

    layers: tuple[LayerSpec, ...]
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        return format_layout(self)


# ---------------------------------------------------------------- printing


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_layer(spec: LayerSpec) -> str:
    """Canonical text of one layer, e.g. ``CONV|12|2|2|1|1|0|0|TANH``."""
    fields = [spec.kind]
    for _, value in spec.params:
        if value is None or value is False:
            continue
        fields.append("FLAT" if value is True else _format_value(value))
    return "|".join(fields)


def format_layout(layout: NetworkLayout) -> str:
    """Canonical text of a layout; ``parse_layout(format_layout(x)) == x``."""
    return ", ".join(format_layer(spec) for spec in layout.layers)


def format_gan_layout(generator: NetworkLayout, discriminator: NetworkLayout) -> str:
    """Canonical GAN layout string, the two halves joined by ``" ## "``."""
    return f"{format_layout(generator)} ## {format_layout(discriminator)}"


# ---------------------------------------------------------------- parsing


class _Tok(NamedTuple):
    text: str
    column: int

    @property
    def end(self) -> int:
        return self.column + len(self.text)


def _split(tok: _Tok, sep: str) -> list[_Tok]:
    """Split ``tok`` at ``sep``, each piece stripped, columns kept absolute."""
    pieces, start = [], 0
    while True:
        at = tok.text.find(sep, start)
        raw = tok.text[start:] if at < 0 else tok.text[start:at]
        pieces.append(_strip(_Tok(raw, tok.column + start)))
        if at < 0:
            return pieces
        start = at + len(sep)


def _strip(tok: _Tok) -> _Tok:
    stripped = tok.text.strip()
    if not stripped:
        return _Tok("", tok.column)
    return _Tok(stripped, tok.column + len(tok.text) - len(tok.text.lstrip()))


def _span(first: _Tok, last: _Tok, text: str) -> _Tok:
    return _Tok(text[first.column:last.end], first.column)


class _Parser:
    """Parses the layers of one string; every failure is a LayoutError into that string."""

    def __init__(self, text: str):
        self.text = text

    def fail(self, problem: str, tok: _Tok, detail: str = "") -> LayoutError:
        return LayoutError(problem, text=self.text, column=tok.column, token=tok.text, detail=detail)

    def expected(self, kind: str) -> str:
        return f"; expected {FORMS[kind]}"

    # ---- network and layer

    def network(self, region: _Tok) -> NetworkLayout:
        if not region.text.strip():
            raise self.fail("empty layout", _Tok("", region.column),
                            "; expected layers separated by ',' such as DENSE|64|RELU, DENSE|1|SIGMOID")
        layers = []
        for piece in _split(region, ","):
            if not piece.text:
                raise self.fail("empty layer", piece,
                                " (two commas in a row, or a comma at the start or end?)")
            layers.append(self.layer(piece))
        return NetworkLayout(tuple(layers), self.text)

    def layer(self, tok: _Tok) -> LayerSpec:
        head, *fields = _split(tok, "|")
        kind = head.text.upper()
        if kind not in FORMS:
            if not head.text:
                raise self.fail("missing layer type", head, f"; known: {', '.join(LAYER_KINDS)}")
            close = difflib.get_close_matches(kind, LAYER_KINDS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise self.fail(f"unknown layer type {head.text!r}", head,
                            f"{hint}; known: {', '.join(LAYER_KINDS)}")
        params = getattr(self, f"_{kind.lower()}")(kind, tok, fields)
        return LayerSpec(kind, tuple(params.items()), tok.column, tok.text)

    # ---- field helpers

    def count(self, kind: str, tok: _Tok, fields: list[_Tok], lo: int, hi: int) -> None:
        """Fail unless ``lo <= len(fields) <= hi``."""
        if len(fields) > hi:
            raise self.fail(f"too many fields for {kind} ({len(fields)} after the type, at most {hi})",
                            _span(fields[hi], fields[-1], self.text), self.expected(kind))
        if len(fields) < lo:
            raise self.fail(f"too few fields for {kind} ({len(fields)} after the type, at least {lo})",
                            tok, self.expected(kind))

    def integer(self, kind: str, tok: _Tok, name: str, minimum: int = 1) -> int:
        what = "a positive" if minimum >= 1 else "a non-negative"
        problem = f"field '{name}' of {kind} must be {what} integer, got {tok.text!r}"
        if not _INT_RE.fullmatch(tok.text):
            raise self.fail(problem, tok, self.expected(kind))
        if len(tok.text.lstrip("+-").lstrip("0")) > len(str(MAX_INT)) or int(tok.text) > MAX_INT:
            raise self.fail(f"field '{name}' of {kind} is too large: {tok.text} > {MAX_INT}", tok,
                            self.expected(kind))
        value = int(tok.text)
        if value < minimum:
            raise self.fail(problem, tok, self.expected(kind))
        return value

    def number(self, kind: str, tok: _Tok, name: str) -> float:
        if not _FLOAT_RE.fullmatch(tok.text):
            raise self.fail(f"field '{name}' of {kind} must be a number, got {tok.text!r}", tok,
                            self.expected(kind))
        value = float(tok.text)
        if not math.isfinite(value):
            raise self.fail(f"field '{name}' of {kind} must be finite, got {tok.text!r}", tok,
                            self.expected(kind))
        return value

    def activation(self, tok: _Tok, kind: str) -> str:
        """Canonical activation text, e.g. ``RELU`` or ``LEAKYRELU:0.2``."""
        name_text, colon, arg_text = tok.text.partition(":")
        name = name_text.strip().upper()
        detail = f"; known: {', '.join(sorted(ACTIVATIONS))}"
        if name not in ACTIVATIONS:
            close = difflib.get_close_matches(name, ACTIVATIONS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise self.fail(f"unknown activation {tok.text!r} in {kind}", tok, hint + detail)
        if name != "LEAKYRELU":
            if colon:
                raise self.fail(f"activation {name} takes no parameter, got {tok.text!r}", tok,
                                "; only LEAKYRELU:slope has one")
            return name
        slope = DEFAULT_LEAKY_SLOPE
        if colon:
            arg = arg_text.strip()
            if not _FLOAT_RE.fullmatch(arg) or not math.isfinite(float(arg)) or float(arg) < 0:
                raise self.fail(f"LEAKYRELU slope must be a non-negative number, got {tok.text!r}",
                                tok, "; expected LEAKYRELU or LEAKYRELU:slope such as LEAKYRELU:0.1")
            slope = float(arg)
        return f"LEAKYRELU:{slope!r}"

    def conv_like(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        """CONV and TCONV: depth|fh|fw, then optional stride and padding pairs, then ACT."""
        self.count(kind, tok, fields, 3, len(fields))  # surplus fields are named below
        params: dict[str, Any] = {
            "depth": self.integer(kind, fields[0], "depth"),
            "fh": self.integer(kind, fields[1], "fh"),
            "fw": self.integer(kind, fields[2], "fw"),
        }
        rest = fields[3:]
        numbers = 0
        while numbers < len(rest) and (not rest[numbers].text
                                       or _NUMERIC_START.match(rest[numbers].text)):
            numbers += 1
        if numbers > 4:
            raise self.fail(f"too many integer fields for {kind} ({3 + numbers}, at most 7)",
                            _span(rest[4], rest[numbers - 1], self.text), self.expected(kind))
        if numbers in (1, 3):
            raise self.fail(f"{kind} strides and paddings come in pairs (sh|sw, ph|pw), "
                            f"got {numbers} integer(s) after fh|fw",
                            _span(rest[0], rest[numbers - 1], self.text), self.expected(kind))
        names = ("sh", "sw", "ph", "pw")
        for i, name in enumerate(names):
            if i < numbers:
                params[name] = self.integer(kind, rest[i], name, 1 if i < 2 else 0)
            else:
                params[name] = 1 if i < 2 else 0
        tail = rest[numbers:]
        params["act"] = self.activation(tail[0], kind) if tail else DEFAULT_ACTIVATION
        if kind == "TCONV":
            params["op"] = 0
            if len(tail) > 1:
                op_tok = tail[1]
                params["op"] = self.integer(kind, op_tok, "op", 0)
                if params["op"] >= min(params["sh"], params["sw"]):
                    raise self.fail(f"output padding {params['op']} of TCONV must be smaller than "
                                    f"both strides ({params['sh']}, {params['sw']})", op_tok,
                                    self.expected(kind))
            extra = tail[2:]
        else:
            extra = tail[1:]
        if extra:
            raise self.fail(f"too many fields for {kind} after its activation",
                            _span(extra[0], extra[-1], self.text), self.expected(kind))
        return params

    # ---- one method per layer kind

    def _dense(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        self.count(kind, tok, fields, 1, 2)
        if len(fields) == 2 and fields[0].text.partition(":")[0].strip().upper() in ACTIVATIONS:
            fields = [fields[1], fields[0]]  # TMVA also takes DENSE|ACT|width
        units = self.width(kind, fields[0])
        act = self.activation(fields[1], kind) if len(fields) > 1 else DEFAULT_ACTIVATION
        return {"units": units, "act": act}

    def width(self, kind: str, tok: _Tok) -> int | WidthExpression:
        """A positive integer, or a TMVA expression of N (constant ones are folded)."""
        if _INT_RE.fullmatch(tok.text):
            return self.integer(kind, tok, "units")
        try:
            expression = _Expression(tok.text)
            canonical = expression.canonical()
        except _ExpressionError as exc:
            if not any(ch in tok.text for ch in "Nn+-*/()"):
                raise self.fail(f"field 'units' of {kind} must be a positive integer or an expression of "
                                f"N, got {tok.text!r}", tok, self.expected(kind)) from None
            raise self.fail(exc.problem, _Tok(tok.text[exc.offset:exc.offset + 1] or " ", tok.column + exc.offset),
                            "; expected e.g. DENSE|(N+100)*2|TANH (N: the network's number of inputs)") from None
        width = WidthExpression(canonical, tok.text, tok.column)
        if "N" in canonical:
            return width
        value = width.value(1)  # a constant: written by hand, so a fraction is a mistake, not truncated
        if not (math.isfinite(value) and value == int(value) and 1 <= value <= MAX_INT):
            raise self.fail(f"field 'units' of {kind} is {value:g}, not a positive integer", tok,
                            self.expected(kind))
        return int(value)

    def _conv(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        return self.conv_like(kind, tok, fields)

    def _tconv(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        return self.conv_like(kind, tok, fields)

    def _maxpool(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        self.count(kind, tok, fields, 2, 4)
        if len(fields) == 3:
            raise self.fail("MAXPOOL strides come as a pair sh|sw, got one", fields[2],
                            self.expected(kind))
        params = {"fh": self.integer(kind, fields[0], "fh"), "fw": self.integer(kind, fields[1], "fw")}
        params["sh"] = self.integer(kind, fields[2], "sh") if len(fields) > 2 else 1
        params["sw"] = self.integer(kind, fields[3], "sw") if len(fields) > 3 else 1
        return params

    def _reshape(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        if len(fields) == 1 and fields[0].text.upper() == "FLAT":
            return {"depth": None, "height": None, "width": None, "flat": True}
        self.count(kind, tok, fields, 3, 4)
        params: dict[str, Any] = {
            "depth": self.integer(kind, fields[0], "d"),
            "height": self.integer(kind, fields[1], "h"),
            "width": self.integer(kind, fields[2], "w"),
            "flat": False,
        }
        if len(fields) == 4:
            if fields[3].text.upper() != "FLAT":
                raise self.fail(f"the fourth field of RESHAPE can only be FLAT, got {fields[3].text!r}",
                                fields[3], self.expected(kind))
            params["flat"] = True
        return params

    def _bnorm(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        self.count(kind, tok, fields, 0, 2)
        momentum, eps = DEFAULT_BNORM_MOMENTUM, DEFAULT_BNORM_EPS
        if fields:
            momentum = self.number(kind, fields[0], "momentum")
            if not (0.0 <= momentum < 1.0 or momentum == -1.0):
                raise self.fail(f"field 'momentum' of BNORM must be in [0, 1) or -1 (cumulative "
                                f"average), got {fields[0].text!r}", fields[0], self.expected(kind))
        if len(fields) > 1:
            eps = self.number(kind, fields[1], "eps")
            if eps <= 0:
                raise self.fail(f"field 'eps' of BNORM must be positive, got {fields[1].text!r}",
                                fields[1], self.expected(kind))
        return {"momentum": momentum, "eps": eps}

    def _no_fields(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        self.count(kind, tok, fields, 0, 0)
        return {}

    _layernorm = _vbn = _concat = _no_fields

    def _upsample(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        self.count(kind, tok, fields, 1, 2)
        factor = self.integer(kind, fields[0], "factor")
        mode = "NEAREST"
        if len(fields) > 1:
            mode = fields[1].text.upper()
            if mode not in UPSAMPLE_MODES:
                raise self.fail(f"unknown UPSAMPLE mode {fields[1].text!r}", fields[1],
                                self.expected(kind))
        return {"factor": factor, "mode": mode}

    def _dropout(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        self.count(kind, tok, fields, 1, 1)
        p = self.number(kind, fields[0], "p")
        if not 0.0 <= p < 1.0:
            raise self.fail(f"field 'p' of DROPOUT must be in [0, 1), got {fields[0].text!r}",
                            fields[0], self.expected(kind))
        return {"p": p}

    def _leakyrelu(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        self.count(kind, tok, fields, 0, 1)
        slope = DEFAULT_LEAKY_SLOPE
        if fields:
            slope = self.number(kind, fields[0], "slope")
            if slope < 0:
                raise self.fail(f"field 'slope' of LEAKYRELU must be non-negative, got "
                                f"{fields[0].text!r}", fields[0], self.expected(kind))
        return {"slope": slope}

    def _act(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        self.count(kind, tok, fields, 1, 1)
        return {"act": self.activation(fields[0], kind)}

    def _embed(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        self.count(kind, tok, fields, 2, 2)
        return {"n_classes": self.integer(kind, fields[0], "n_classes"),
                "dim": self.integer(kind, fields[1], "dim")}

    def _minibatchstd(self, kind: str, tok: _Tok, fields: list[_Tok]) -> dict[str, Any]:
        self.count(kind, tok, fields, 0, 1)
        return {"group": self.integer(kind, fields[0], "group", 0) if fields else 0}


def parse_layout(text: str) -> NetworkLayout:
    """Parse one network's layout; a ``##`` (a GAN layout) is an error here."""
    parser = _Parser(text)
    at = text.find("##")
    if at >= 0:
        raise parser.fail("'##' in a single network's layout", _Tok("##", at),
                          " ('##' separates a GAN's generator and discriminator: use parse_gan_layout)")
    return parser.network(_Tok(text, 0))


def parse_gan_layout(text: str) -> tuple[NetworkLayout, NetworkLayout]:
    """Parse ``GENERATOR ## DISCRIMINATOR``; columns of both halves index ``text``."""
    parser = _Parser(text)
    first = text.find("##")
    if first < 0:
        raise parser.fail("no '##' in a GAN layout", _Tok(text, 0),
                          "; expected GENERATOR_LAYERS ## DISCRIMINATOR_LAYERS")
    second = text.find("##", first + 2)
    if second >= 0:
        raise parser.fail("more than one '##' in a GAN layout", _Tok("##", second),
                          "; expected exactly one, between generator and discriminator")
    generator = parser.network(_Tok(text[:first], 0))
    discriminator = parser.network(_Tok(text[first + 2:], first + 2))
    return generator, discriminator


def parse_shape(text: str) -> tuple[int, ...]:
    """Parse a TMVA input or batch layout such as ``1|28|28`` into ``(1, 28, 28)``."""
    parser = _Parser(text)
    if not text.strip():
        raise parser.fail("empty shape", _Tok("", 0), "; expected positive integers such as 1|28|28")
    shape = []
    for tok in _split(_Tok(text, 0), "|"):
        if not _INT_RE.fullmatch(tok.text) or len(tok.text.lstrip("+-").lstrip("0")) > 10 \
                or not 1 <= int(tok.text) <= MAX_INT:
            raise parser.fail(f"shape entries must be positive integers, got {tok.text!r}", tok,
                              "; expected positive integers separated by '|' such as 1|28|28")
        shape.append(int(tok.text))
    return tuple(shape)


__all__ = [
    "ACTIVATIONS", "FORMS", "LAYER_KINDS", "LayerSpec", "LayoutError", "NetworkLayout", "WidthExpression",
    "format_gan_layout", "format_layer", "format_layout", "parse_gan_layout", "parse_layout",
    "parse_shape",
]
