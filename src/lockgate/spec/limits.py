"""Every limit a spec must stay within, so that no spec, however hostile, can make
lockgate hang, exhaust memory, or write outside the repository.

A spec is code the team reviews, but it is also input that arrives in pull
requests and from generators. Loading one must end in well under a second with
either a pipeline or one located error per problem (``FILE:LINE:COL: message``,
exit 2), never a traceback, a hang, or a file written. Each limit below is far
above what a hand-written (or sanely generated) spec needs, and each error
message names the limit and how to stay within it.

Reading the file (``spec.yamlread``)
    ``MAX_SPEC_BYTES``   10 MiB: the size of a spec or params file. It is read
                         up to this size and no further.
    (encoding)           UTF-8 only; the first undecodable byte is located.
    ``MAX_YAML_VALUES``  50,000 values (scalars, lists, mappings) per YAML
                         document (the spec, its params file, each ``-p``
                         value), *counting every value an alias repeats*: a
                         "billion laughs" document (a few hundred bytes of
                         nested aliases expanding to 10^9 values) stops here.
    ``MAX_YAML_DEPTH``   100 levels of nested lists/mappings (aliases included).
    ``MAX_INT_DIGITS``   100 digits in an integer (Python itself refuses to
                         read more than 4300; an identifier that long is text:
                         quote it).
    (tags)               only plain values: strings, numbers, true/false, null,
                         lists and mappings. Any other tag (``!!python/...``,
                         ``!!binary``, ``!!set``, local ``!tags``) is refused, and so
                         are YAML 1.1's surprises: an unquoted date
                         (``2024-01-01``), a base-60 number (``12:30``), and
                         ``yes``/``no``/``on``/``off``/``true``/``null`` used
                         as a key. Quoting keeps them as text.
    Aliases and merge keys (``<<: *defaults``) are allowed within these bounds;
    an alias inside the node it refers to (a recursive document) is refused.

Stages (``spec.load``, ``graph.expand``)
    ``MAX_MATRIX_STAGES``   1,000 stages from one ``matrix:`` (the product of
                            its axis lengths), checked before expanding it.
    ``MAX_PIPELINE_STAGES`` 2,000 stages in one pipeline, matrix expansion
                            included.
    ``MAX_EXPANDED_VALUES`` 100,000 values in all stages together after matrix
                            expansion and ``${...}`` interpolation, and
    ``MAX_EXPANDED_CHARS``  10,000,000 characters of text built by interpolation:
                            a large param used by every stage of a matrix, or
                            ``"${a}${a}${a}..."``, cannot multiply into gigabytes.
    (dependencies)          ``MAX_PIPELINE_EDGES``: 50,000 links between stages
                            (2,000 stages all reading one folder that all of
                            them write into would otherwise make 4 million).

Expressions (``spec.expr``, evaluated by ``gates``)
    ``MAX_EXPR_CHARS``  1,000 characters in one ``when:`` or gate.
    ``MAX_EXPR_NODES``  200 terms (numbers, references, operations) in one, which
                        also bounds how deeply it nests.
    ``MAX_EXPR_TOTAL_CHARS`` 100,000 characters of distinct expressions in one
                        pipeline after matrix expansion (an expression repeated
                        by a matrix is parsed, and counted, once).
    Arithmetic (``+ - * /``, unary ``-``) works on numbers only (not strings,
    lists or true/false), so ``'x' * 10**9`` cannot be built; an integer result
    wider than 64 bits becomes a float, and a float that overflows is an error.

Paths and names (``spec.paths``)
    ``outs``, ``metrics``, ``deps``, ``inputs`` and ``params_file`` paths are
    relative to the repository root. After normalization (``a/../b`` is ``b``)
    none may be the root itself (``.``) or hold a ``.git`` or ``.lockgate``
    component. Paths lockgate *writes* (``outs``, ``metrics``) or reads as spec
    (``params_file``, which must also be a regular file: a FIFO or a device
    would never end) must be inside the repository: no absolute path, no
    ``..`` leading out. Exception: ``deps`` and ``inputs`` may name data outside
    the repository (an absolute path, or ``../shared/data``): it is read and
    hashed, never written, pruned or restored.
    ``MAX_PATH_BYTES``       4,096 bytes in a path (the usual ``PATH_MAX``).
    ``MAX_COMPONENT_BYTES``  255 bytes in a folder or file name that is only read
                             (the usual ``NAME_MAX``).
    ``MAX_NAME_BYTES``       200 bytes in a folder or file name lockgate writes
                             (``outs``, ``metrics``), and in every name that
                             becomes part of a file name: stage names (with their
                             matrix suffix: logs go to
                             ``.lockgate/logs/PIPELINE/STAGE.log``), artifact
                             names, the pipeline name (the spec's file name) and
                             a ``promote`` stage's ``model_name``
                             (``registry/NAME.yaml``). The 55 bytes to spare
                             leave room for the suffixes and temporary-file names
                             lockgate adds (``.NAME.lockgate-XXXXXXXXXXXX.tmp``).

-p overrides are read as YAML with the same limits; a value that is not valid
YAML (``-p seed=[1``) is an error saying how to quote it, never silently text.
"""

from __future__ import annotations

MAX_SPEC_BYTES = 10 * 1024 * 1024
MAX_YAML_VALUES = 50_000
MAX_YAML_DEPTH = 100
MAX_INT_DIGITS = 100

MAX_MATRIX_STAGES = 1_000
MAX_PIPELINE_STAGES = 2_000
MAX_EXPANDED_VALUES = 100_000
MAX_EXPANDED_CHARS = 10_000_000
MAX_PIPELINE_EDGES = 50_000

MAX_EXPR_CHARS = 1_000
MAX_EXPR_NODES = 200
MAX_EXPR_TOTAL_CHARS = 100_000

MAX_PATH_BYTES = 4_096
MAX_COMPONENT_BYTES = 255
MAX_NAME_BYTES = 200

MAX_SHOWN_CHARS = 60
"""How much of a user's value an error message repeats (the rest is elided)."""


def shown(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """``repr(value)`` for an error message, cut after about ``limit`` characters
    (``'aaaa'...``), so a 10 MB value never becomes a 10 MB line."""
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else repr(value[:limit]) + "..."
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
