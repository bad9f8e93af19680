"""The topology drawn two ways: Mermaid text (GitHub renders it in a comment) and Graphviz DOT (for SVG files).

Both draw the same groups, nodes and edges. A changed element says so in its label ("new", "changed",
"removed"), so the mark survives without colours, and is coloured too: green new, amber changed, red
dashed removed. An added edge is thick, a removed one dotted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tools.preview.graph import Group, Node, Topology

MARKS = {"added": "new", "changed": "changed", "removed": "removed"}
#: Mermaid node shapes by kind: (opening, closing) around the quoted label.
_SHAPES = {"subnet": ("[", "]"), "endpoint": ("([", "])"), "gateway": ("{{", "}}"), "nat": ("{{", "}}"),
           "igw": ("{{", "}}"), "internet": ("((", "))"), "lb": ("{{", "}}"), "service": ("(", ")"),
           "worker": ("(", ")"), "job": ("(", ")"), "bucket": ("[(", ")]"), "queue": ("[(", ")]"),
           "efs": ("[(", ")]"), "opaque": ("[", "]"), "instance": ("[", "]"), "function": ("(", ")"),
           "database": ("[(", ")]"), "eks": ("[", "]")}
_COLOURS = {"added": ("#e6ffed", "#22863a"), "changed": ("#fff5b1", "#b08800"), "removed": ("#ffeef0", "#cb2431")}
_DOT_SHAPES = {"subnet": "box", "endpoint": "box", "gateway": "hexagon", "nat": "hexagon", "igw": "hexagon",
               "internet": "circle", "lb": "hexagon", "service": "box", "worker": "box", "job": "box",
               "bucket": "cylinder", "queue": "cylinder", "efs": "cylinder", "opaque": "box", "instance": "box",
               "function": "box", "database": "cylinder", "eks": "box"}
_KIND_FILL = {"subnet": "#f1f8ff", "endpoint": "#f5f0ff", "service": "#ffffff", "worker": "#ffffff",
              "job": "#ffffff", "opaque": "#eeeeee"}


def _lines(node: Node) -> list[str]:
    mark = MARKS.get(node.status)
    return [f"({mark}) {node.lines[0]}" if mark else node.lines[0], *node.lines[1:]]


def _children(topo: Topology) -> tuple[dict[str | None, list[Group]], dict[str | None, list[Node]]]:
    groups: dict[str | None, list[Group]] = {}
    for g in topo.groups.values():
        groups.setdefault(g.parent if g.parent in topo.groups else None, []).append(g)
    nodes: dict[str | None, list[Node]] = {}
    for n in topo.nodes.values():
        nodes.setdefault(n.group if n.group in topo.groups else None, []).append(n)
    return groups, nodes


def _has_nodes(gid: str, groups: dict[str | None, list[Group]], nodes: dict[str | None, list[Node]]) -> bool:
    return bool(nodes.get(gid)) or any(_has_nodes(g.id, groups, nodes) for g in groups.get(gid, []))


# --- Mermaid ---------------------------------------------------------------------------------------------------

def _mermaid_text(text: str) -> str:
    """A label safe inside Mermaid's double quotes (its entity codes for what would end or break it)."""
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("|", "#124;"))


def mermaid(topo: Topology) -> str:
    """The topology as a Mermaid flowchart."""
    groups, nodes = _children(topo)
    out = ["flowchart LR"]

    def emit(gid: str | None, depth: int) -> None:
        pad = "  " * depth
        for node in nodes.get(gid, []):
            opening, closing = _SHAPES.get(node.kind, ("[", "]"))
            label = "<br/>".join(_mermaid_text(line) for line in _lines(node))
            out.append(f'{pad}{node.id}{opening}"{label}"{closing}')
        for group in groups.get(gid, []):
            if not _has_nodes(group.id, groups, nodes):
                continue
            out.append(f'{pad}subgraph {group.id}["{_mermaid_text(group.label)}"]')
            emit(group.id, depth + 1)
            out.append(f"{pad}end")

    emit(None, 1)
    for e in topo.edges:
        arrow = {"added": "==>", "removed": "-.->"}.get(e.status, "-->")
        label = f'|"{_mermaid_text(e.label)}"|' if e.label else ""
        out.append(f"  {e.src} {arrow}{label} {e.dst}")
    for status, (fill, stroke) in _COLOURS.items():
        dash = ",stroke-dasharray:5 5" if status == "removed" else ""
        out.append(f"  classDef {status} fill:{fill},stroke:{stroke},stroke-width:2px{dash}")
        marked = [n.id for n in topo.nodes.values() if n.status == status]
        if marked:
            out.append(f"  class {','.join(marked)} {status}")
    return "\n".join(out) + "\n"


# --- Graphviz --------------------------------------------------------------------------------------------------

def dot(topo: Topology, title: str = "") -> Any:
    """The topology as a `graphviz.Digraph` (its `.source` is the DOT text; needs the `graphviz` package)."""
    import graphviz

    graph = graphviz.Digraph("topology", graph_attr={"rankdir": "LR", "fontname": "Helvetica", "fontsize": "11",
                                                     "label": title, "labelloc": "t", "compound": "true"},
                             node_attr={"fontname": "Helvetica", "fontsize": "10", "style": "filled,rounded",
                                        "fillcolor": "#ffffff"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    groups, nodes = _children(topo)

    def emit(parent: Any, gid: str | None) -> None:
        for node in nodes.get(gid, []):
            attrs = {"shape": _DOT_SHAPES.get(node.kind, "box"), "fillcolor": _KIND_FILL.get(node.kind, "#ffffff")}
            if node.status in _COLOURS:
                attrs["fillcolor"], attrs["color"] = _COLOURS[node.status]
                attrs["penwidth"] = "2"
                if node.status == "removed":
                    attrs["style"] = "filled,dashed"
            parent.node(node.id, "\n".join(_lines(node)), **attrs)
        for group in groups.get(gid, []):
            if not _has_nodes(group.id, groups, nodes):
                continue
            with parent.subgraph(name=f"cluster_{group.id}") as sub:
                sub.attr(label=group.label, style="rounded", color="#8a8a8a", fontname="Helvetica", fontsize="10")
                emit(sub, group.id)

    emit(graph, None)
    for e in topo.edges:
        attrs = {"style": "dotted", "color": "#cb2431"} if e.status == "removed" else (
            {"penwidth": "2", "color": "#22863a"} if e.status == "added" else {})
        graph.edge(e.src, e.dst, label=e.label, **attrs)
    return graph


def svg(topo: Topology, title: str = "") -> bytes:
    """The SVG Graphviz's `dot` draws; it carries the SHA-256 of its DOT source, so a stale file is found
    without drawing it again (tests compare the DOT, which does not depend on the Graphviz version)."""
    graph = dot(topo, title)
    drawn = graph.pipe(format="svg")
    marker = f"<!-- dot-source-sha256: {dot_digest(graph.source)} -->\n".encode()
    head, sep, rest = drawn.partition(b"<svg")
    return head + marker + sep + rest


def dot_digest(source: str) -> str:
    """The SHA-256 of DOT text."""
    return hashlib.sha256(source.encode()).hexdigest()
