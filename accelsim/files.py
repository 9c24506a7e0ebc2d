"""Reading user files within bounds: size, encoding, and YAML nesting, expansion and integers.

Every device, network, sweep, SCALE-Sim and HuggingFace file is read through `read_text` (of
accelsim.text_files, which needs no PyYAML), and every YAML text (files, --set and --param values)
is parsed by a `BoundedLoader`, so that a hostile input (a FIFO, a huge or binary file, a
billion-laughs alias bomb, deep nesting) ends in a one-line error.
"""

from __future__ import annotations

import yaml

from accelsim.errors import AccelsimError
# re-exported: callers read text and YAML files through this module
from accelsim.text_files import MAX_TEXT_BYTES, file_size, read_json, read_text  # noqa: F401

MAX_YAML_BYTES = 1 << 20      # YAML files: the pure-Python parser reads about 100 kB/s
MAX_YAML_DEPTH = 64           # nesting of a YAML document, aliases expanded
MAX_YAML_NODES = 250_000      # nodes of a YAML document, aliases expanded
MAX_YAML_INT = 2**63 - 1      # integers must fit a signed 64-bit word


class YamlLimitError(yaml.MarkedYAMLError):
    """A YAML document past one of the bounds above."""


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting, alias bombs, recursive aliases and huge integers."""

    source = ""
    _depth = 0

    def compose_node(self, parent, index):
        """Compose one node, at most MAX_YAML_DEPTH deep."""
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _limit(f"nested deeper than {MAX_YAML_DEPTH} levels", self.peek_event())
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self):
        """The document's node graph, refused if its aliases expand past the bounds."""
        node = super().get_single_node()
        if node is not None:
            _measure(node, 1, {})
        return node

    def construct_object(self, node, deep=False):
        """Construct a node; a value its tag cannot hold (month 13, !!int abc) is a YAML error."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, LookupError, ArithmeticError) as exc:
            raise yaml.constructor.ConstructorError(None, None, f"cannot read the value: {exc}",
                                                    node.start_mark) from None


def _limit(problem: str, where: yaml.Node | yaml.Event) -> YamlLimitError:
    """A YamlLimitError at `where`."""
    return YamlLimitError(None, None, f"{problem} (the limit)", where.start_mark)


def _construct_int(loader: BoundedLoader, node: yaml.ScalarNode) -> int:
    """A YAML integer within MAX_YAML_INT."""
    if len(node.value) <= 100:
        value = loader.construct_yaml_int(node)
        if abs(value) <= MAX_YAML_INT:
            return value
    raise _limit(f"integer {node.value[:30]!r} is larger than {MAX_YAML_INT}", node)


BoundedLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _children(node: yaml.Node) -> list:
    """The nodes directly inside `node`."""
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return node.value if isinstance(node, yaml.SequenceNode) else []


def _measure(node: yaml.Node, depth: int, sizes: dict) -> tuple[int, int]:
    """(nodes, height) of `node` with aliases expanded, refused past MAX_YAML_NODES/DEPTH."""
    known = sizes.get(id(node), ())
    if known is None:
        raise _limit("an alias inside the node it names is recursive", node)
    if known and depth + known[1] <= MAX_YAML_DEPTH:
        return known
    if depth > MAX_YAML_DEPTH or known:
        raise _limit(f"nested deeper than {MAX_YAML_DEPTH} levels, aliases expanded", node)
    sizes[id(node)] = None
    count, height = 1, 0
    for child in _children(node):
        inner, below = _measure(child, depth + 1, sizes)
        count, height = count + inner, max(height, below + 1)
        if count > MAX_YAML_NODES:
            raise _limit(f"more than {MAX_YAML_NODES} values, aliases expanded", node)
    sizes[id(node)] = (count, height)
    return count, height


def load_yaml(text: str, source: str, error: type[AccelsimError], *, key: str | None = None,
              loader: type[BoundedLoader] = BoundedLoader) -> object:
    """Parse one YAML document with `loader`; every failure is `error` at `source`:line."""
    try:
        parser = loader(text)     # refuses unprintable characters
        parser.source = source
        try:
            return parser.get_single_data()
        finally:
            parser.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = " ".join(f"{exc.context or ''} {exc.problem or ''}".split())
        raise error(f"invalid YAML: {detail}", file=source, key=key,
                    line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {' '.join(str(exc).split())}", file=source, key=key) from None
