"""Check the workflow's config against its JSON schema and say what is wrong in one line a user can act on:
the key's place (``datasets.hzz_jets.source.branchs``), what is wrong, and the nearest valid names. The full
schema (which jsonschema's own message prints, 40-170 lines of it) only on request."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

import yaml

from baler_core.errors import BalerError


class ConfigError(BalerError, ValueError):
    """A config file that does not follow ``workflow/schemas/config.schema.yaml``."""


def _place(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _describe(error) -> str:
    place = _place(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))  # the object's own schema ($ref resolved)
        extra = [k for k in error.instance if k not in allowed]
        lines = []
        for key in extra:
            near = difflib.get_close_matches(key, allowed, n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(near)}?" if near else f"valid keys: {', '.join(allowed)}"
            lines.append(f"{place}.{key}: unknown key; {hint}" if error.absolute_path else
                         f"{key}: unknown key; {hint}")
        return "; ".join(lines)
    if error.validator == "enum":
        near = difflib.get_close_matches(str(error.instance), [str(v) for v in error.validator_value], n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        return f"{place}: {error.instance!r} is not one of {', '.join(map(str, error.validator_value))}{hint}"
    return f"{place}: {error.message}"


def config_problems(config: Mapping, schema: Mapping) -> list[str]:
    """Every violation of ``schema`` in ``config``, one line each, in config order."""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    out: list[str] = []
    for error in errors:
        if error.context:  # oneOf / anyOf: the branch that got furthest says the most
            error = jsonschema.exceptions.best_match(error.context) or error
        line = _describe(error)
        if line not in out:
            out.append(line)
    return out


def check_config(config: Mapping, schema_path: str | Path, verbose: bool = False) -> None:
    """Raise ``ConfigError`` naming each bad key of ``config``; with ``verbose`` the schema follows."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    problems = config_problems(config, schema)
    if problems:
        text = "config: " + "\n  ".join(problems)
        if verbose:
            text += "\n\nschema (" + str(schema_path) + "):\n" + yaml.safe_dump(schema, sort_keys=False)
        else:
            text += f"\n(the schema: {schema_path}; set BALER_VERBOSE=1 to print it here)"
        raise ConfigError(text)
