"""Ingest's versioned TOML files (qc.toml, admission.toml), validated with pydantic like riskcode.toml.

Shared by ``qc.py`` and ``admission.py``: strict models (an unknown key is an error, numbers must be TOML
numbers: ``"1.0"`` or ``true`` is refused, not coerced), and errors that name each bad key as
"dotted.key: problem". Pure: parsing only; the callers read the files.
"""

from __future__ import annotations

import re
import tomllib
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from haixun.errors import HaixunError

Num = Annotated[float, Strict()]
NonNeg = Annotated[float, Strict(), Field(ge=0)]
Positive = Annotated[float, Strict(), Field(gt=0)]
Flag = Annotated[bool, Strict()]
PositiveInt = Annotated[int, Strict(), Field(ge=1)]
Span = tuple[Num, Num]
Version = Annotated[str, Strict(), Field(min_length=1)]


class ConfigFileError(HaixunError, ValueError):
    """An ingest configuration file is invalid; ``errors`` lists "key: problem" lines."""

    label: ClassVar[str] = "ingest configuration"

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"invalid {self.label}:\n  " + "\n  ".join(errors))
        self.errors = errors


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)
_KEY_FIRST = re.compile(r"^([a-z_]+): ")


def format_errors(exc: ValidationError) -> list[str]:
    """One "dotted.key: problem" line per pydantic error; a model check's message that starts with its
    key ("fail_span: ...") is attributed to that key."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        m = _KEY_FIRST.match(msg)
        if m:
            loc.append(m.group(1))
            msg = msg[m.end():]
        key = ".".join(loc) or "(top level)"
        if err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key (misspelled?)"
        out.append(f"{key}: {msg}")
    return out


def validate(model: type[M], data: dict[str, Any], error: type[ConfigFileError]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(format_errors(exc)) from None


def parse_toml(text: str, error: type[ConfigFileError]) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error([f"TOML syntax: {exc}"]) from None


def naming_file(exc: ConfigFileError, source: str) -> ConfigFileError:
    """The same error with ``source`` (the file) in front of every line."""
    return type(exc)([f"{source}: {e}" for e in exc.errors])
