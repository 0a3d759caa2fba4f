"""State diagrams of an SOP (Mermaid or Graphviz DOT), drawn by ``transitions``' GraphMachine.

The edge label is the trigger followed by the roles allowed to fire it: we hand the roles
to GraphMachine as the transition's "conditions", which it prints in brackets with
``show_conditions``. This machine is only ever drawn, never triggered, so those strings
are never resolved as callbacks.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from transitions import State
from transitions.extensions import GraphMachine

from states.machine import CompiledSop

Format = Literal["mermaid", "dot"]


class _Drawing:
    """The model GraphMachine attaches its ``get_graph`` to."""


class _LabelledState(State):
    """A state with a display name: GraphMachine draws ``label`` when the state has one
    (transitions' markup lists it among the state attributes), but the plain State class
    takes no such argument."""

    def __init__(self, *args: Any, label: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if label:
            self.label = label


def _styles(fmt: Format) -> dict[str, Any]:
    """GraphMachine's styles, with a double border kept for final states in DOT (its
    "active" style had one too: the state of a request shown is coloured only)."""
    styles: dict[str, Any] = copy.deepcopy(GraphMachine.style_attributes)
    if fmt == "dot":
        nodes: dict[str, dict[str, str]] = styles["node"]
        nodes["active"] = {**nodes["active"], "peripheries": "1"}
        nodes["final"] = {"peripheries": "2"}
        nodes["active_final"] = {**nodes["active"], "peripheries": "2"}
    return styles


def diagram(sop: CompiledSop, fmt: Format = "mermaid", locale: str = "en",
            labels: bool = False, current: str | None = None) -> str:  # fmt: skip
    """The SOP's state diagram. With ``labels`` states and steps are named in ``locale``
    (for people); without, by their ids with the roles on each edge (for tools, diffs).
    Final states are marked (Mermaid ``--> [*]``, DOT a double border); ``current``, the
    state of a request shown with the diagram, is highlighted, and no state otherwise."""
    spec = sop.spec
    model = _Drawing()

    def named(item: dict[str, object], label: str) -> dict[str, object]:
        return {**item, "label": label} if labels else item

    class _Drawer(GraphMachine):
        state_cls = _LabelledState
        style_attributes = _styles(fmt)

    machine = _Drawer(
        model=model,
        states=[
            named({"name": s.id, "final": bool(s.final)}, s.label.get(locale)) for s in spec.states
        ],
        initial=sop.initial,
        transitions=[
            named(
                {
                    "trigger": tr.trigger,
                    "source": src,
                    "dest": tr.to,
                    # roles in brackets on the edge, for tools; people read them in a table
                    "conditions": [] if labels else [" | ".join(tr.roles)],
                },
                tr.label.get(locale),
            )
            for tr in spec.transitions
            for src in tr.source
        ],
        auto_transitions=False,
        show_conditions=True,
        graph_engine="mermaid" if fmt == "mermaid" else "graphviz",
        title=f"{spec.title.get(locale)} (v{spec.version})",
    )
    model.get_graph()  # type: ignore[attr-defined]  # (makes the model's graph builder)
    builder = machine.model_graphs[id(model)]
    builder.reset_styling()  # GraphMachine marks the initial state as the model's current
    finals = {s.id for s in spec.states if s.final}
    if fmt == "dot":
        for state in finals:
            builder.set_node_style(state, "final")
    if current is not None:
        final = fmt == "dot" and current in finals
        builder.set_node_style(current, "active_final" if final else "active")
    graph: Any = builder.get_graph(title=machine.title)
    if fmt == "dot":
        # GraphMachine left-justifies state names ('\l'); names in a right-to-left script
        # then fall outside their box, so the labelled drawing centres them
        return str(graph.source).replace('\\l"', '"') if labels else str(graph.source)
    ends = [f"  {s.id} --> [*]" for s in spec.states if s.final]
    return "\n".join([str(graph.draw(None)).rstrip("\n"), *ends]) + "\n"
