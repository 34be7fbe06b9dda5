"""The calculator's arithmetic: Python's own parser, with an allow-list of what may be evaluated.

Never eval(): the expression comes from a model, which may have read anything.
Numbers stay small enough that no expression can hold the CPU or the memory
(2 ** 2 ** 64 is refused before it is computed).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 10_000
MAX_INT_BITS = 4096  # about 1,200 digits

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}


class NotArithmetic(ValueError):
    pass


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression, or NotArithmetic saying why not."""
    if not isinstance(expression, str) or not expression.strip():
        raise NotArithmetic("Give an arithmetic expression, such as 2 * (3 + 4).")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise NotArithmetic(f"The expression is longer than {MAX_EXPRESSION_CHARS} characters.")
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise NotArithmetic("That is not an arithmetic expression.") from None
    try:
        value = _value(tree.body)
    except (ZeroDivisionError, OverflowError, ValueError, ArithmeticError, RecursionError) as exc:
        if isinstance(exc, NotArithmetic):
            raise
        raise NotArithmetic(f"It cannot be computed: {exc or type(exc).__name__}.") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise NotArithmetic("The result is not a finite number.")
    return value


def _value(node: ast.expr) -> int | float:
    match node:
        case ast.Constant(value=bool()):
            raise NotArithmetic("Only numbers can be computed.")
        case ast.Constant(value=int() | float() as number):
            return number
        case ast.Name(id=name) if name in _CONSTANTS:
            return _CONSTANTS[name]
        case ast.UnaryOp(op=op, operand=operand) if type(op) in _UNARY:
            return _UNARY[type(op)](_value(operand))
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
            a, b = _value(left), _value(right)
            if isinstance(op, ast.Pow):
                _check_power(a, b)
            return _small(_BINARY[type(op)](a, b))
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if (
            name in _FUNCTIONS and len(args) <= 2
        ):
            return _small(_FUNCTIONS[name](*(_value(arg) for arg in args)))
    raise NotArithmetic("Only numbers, + - * / // % ** and functions such as sqrt() can be computed.")


def _check_power(base: float, exponent: float) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise NotArithmetic(f"Exponents above {MAX_EXPONENT} are not computed.")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if base.bit_length() * exponent > MAX_INT_BITS:
            raise NotArithmetic("The result would be too large.")


def _small(value: int | float) -> int | float:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise NotArithmetic("The result would be too large.")
    return value
