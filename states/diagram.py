"""State diagrams of an SOP (Mermaid or Graphviz DOT), drawn by ``transitions``' GraphMachine.

The edge label is the trigger followed by the roles allowed to fire it: we hand the roles
to GraphMachine as the transition's "conditions", which it prints in brackets with
``show_conditions``. This machine is only ever drawn, never triggered, so those strings
are never resolved as callbacks.
"""

from __future__ import annotations

from typing import Literal

from transitions.extensions import GraphMachine

from states.machine import CompiledSop

Format = Literal["mermaid", "dot"]


class _Drawing:
    """The model GraphMachine attaches its ``get_graph`` to."""


def diagram(sop: CompiledSop, fmt: Format = "mermaid", locale: str = "en") -> str:
    spec = sop.spec
    model = _Drawing()
    GraphMachine(
        model=model,
        states=[{"name": s.id, "final": bool(s.final)} for s in spec.states],
        initial=sop.initial,
        transitions=[
            {
                "trigger": tr.trigger,
                "source": src,
                "dest": tr.to,
                "conditions": [" | ".join(tr.roles)],
            }
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
        return str(graph.source)
    return str(graph.draw(None))
