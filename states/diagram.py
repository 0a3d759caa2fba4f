"""State diagrams of an SOP (Mermaid or Graphviz DOT), drawn by ``transitions``' GraphMachine.

The edge label is the trigger followed by the roles allowed to fire it: we hand the roles
to GraphMachine as the transition's "conditions", which it prints in brackets with
``show_conditions``. This machine is only ever drawn, never triggered, so those strings
are never resolved as callbacks.
"""

from __future__ import annotations

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


class _Drawer(GraphMachine):
    state_cls = _LabelledState


def diagram(sop: CompiledSop, fmt: Format = "mermaid", locale: str = "en",
            labels: bool = False) -> str:  # fmt: skip
    """The SOP's state diagram. With ``labels`` states and steps are named in ``locale``
    (for people); without, by their ids with the roles on each edge (for tools, diffs)."""
    spec = sop.spec
    model = _Drawing()

    def named(item: dict[str, object], label: str) -> dict[str, object]:
        return {**item, "label": label} if labels else item

    _Drawer(
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
    graph = model.get_graph()  # type: ignore[attr-defined]
    if fmt == "dot":
        # GraphMachine left-justifies state names ('\l'); names in a right-to-left script
        # then fall outside their box, so the labelled drawing centres them
        return str(graph.source).replace('\\l"', '"') if labels else str(graph.source)
    return str(graph.draw(None))
