"""Compare two final ProjectStates model by model: fields (deconstructed), options, bases, managers."""

from __future__ import annotations

from typing import Any

# Options whose order means nothing: compared as name -> deconstruction.
_NAMED_LISTS = ("indexes", "constraints")


def _field(field: Any) -> tuple[Any, ...]:
    _, path, args, kwargs = field.deconstruct()
    return path, tuple(args), kwargs


def _describe(deconstructed: tuple[Any, ...]) -> str:
    path, args, kwargs = deconstructed
    inner = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in sorted(kwargs.items()))])
    return f"{path.rpartition('.')[2]}({inner})"


def _options(options: dict[str, Any]) -> dict[str, Any]:
    out = dict(options)
    for name in _NAMED_LISTS:
        if name in out:
            out[name] = {getattr(item, "name", repr(item)): item.deconstruct() for item in out[name]}
    return out


def differences(original: Any, squashed: Any) -> list[str]:
    """What differs between the final states of the two chains (empty: they are equal)."""
    out: list[str] = []
    for key in sorted(set(original.models) | set(squashed.models)):
        a, b = original.models.get(key), squashed.models.get(key)
        label = f"{key[0]}.{key[1]}"
        if a is None or b is None:
            out.append(f"model {label}: only in the {'original' if b is None else 'squashed'} chain")
            continue
        fields_a = {name: _field(f) for name, f in a.fields.items()}
        fields_b = {name: _field(f) for name, f in b.fields.items()}
        for name in sorted(set(fields_a) | set(fields_b)):
            fa, fb = fields_a.get(name), fields_b.get(name)
            if fa is None or fb is None:
                out.append(
                    f"field {label}.{name}: only in the {'original' if fb is None else 'squashed'} chain"
                )
            elif fa != fb:
                out.append(f"field {label}.{name}: original {_describe(fa)}, squashed {_describe(fb)}")
        options_a, options_b = _options(a.options), _options(b.options)
        for option in sorted(set(options_a) | set(options_b)):
            if options_a.get(option) != options_b.get(option):
                out.append(
                    f"option {label}.{option}: original {options_a.get(option)!r}, "
                    f"squashed {options_b.get(option)!r}"
                )
        if tuple(a.bases) != tuple(b.bases):
            out.append(f"bases of {label}: original {a.bases!r}, squashed {b.bases!r}")
        if list(a.managers) != list(b.managers):
            out.append(f"managers of {label}: original {a.managers!r}, squashed {b.managers!r}")
    return out
