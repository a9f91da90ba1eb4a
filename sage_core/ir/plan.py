"""Physical plan: the logical graph cut into stages of fused operators.

A stage is a chain of nodes run together in one call: a head (a source, a multi-input
operator, the consumer of a keyby, or a node with a different parallelism or several
consumers upstream) followed by the one-input, one-consumer nodes after it. A ``keyby``
becomes the partitioning of the route into the next stage, except between two
single-instance operators, where it runs inline (keys computed, no routing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sage_core import ir

# How a route spreads records over the target stage's instances.
FORWARD = "forward"  # same parallel index (equal parallelism)
REBALANCE = "rebalance"  # spread evenly, no key
HASH = "hash"  # key -> one instance
BROADCAST = "broadcast"  # every instance
ROUND_ROBIN = "round_robin"  # keyed, but spread evenly


@dataclass(frozen=True)
class Route:
    """Records leaving a stage for ``target`` (input slot ``input_index`` of its head)."""

    target: int
    input_index: int
    partition: str
    keyby: ir.KeyBy | None = None  # the keyby node whose selector computes the key
    feedback: bool = False
    port: str | None = None  # which output of the stage's last operator (None: main)


@dataclass(frozen=True)
class Stage:
    id: int
    nodes: tuple[ir.Node, ...]
    parallelism: int
    keyed: bool
    routes: tuple[Route, ...] = ()
    upstream: tuple[int, ...] = ()  # stages feeding this one through non-feedback routes
    feedback_upstream: tuple[int, ...] = ()

    @property
    def head(self) -> ir.Node:
        return self.nodes[0]

    @property
    def is_source(self) -> bool:
        return self.head.is_source

    @property
    def name(self) -> str:
        return "+".join(n.name for n in self.nodes)


@dataclass
class PhysicalPlan:
    graph: ir.Graph
    stages: list[Stage] = field(default_factory=list)

    def explain(self) -> str:
        lines = [f"physical plan for {self.graph.name!r}: {len(self.stages)} stages"]
        for s in self.stages:
            routes = ", ".join(
                f"->stage{r.target}({r.partition}{', feedback' if r.feedback else ''}{f', {r.port}' if r.port else ''})"
                for r in s.routes
            )
            lines.append(f"  stage{s.id} x{s.parallelism}{' keyed' if s.keyed else ''}: {s.name} {routes}".rstrip())
        return "\n".join(lines)


def build_plan(graph: ir.Graph) -> PhysicalPlan:
    """Fuse the graph into stages and compute routes between them."""
    nodes = graph.nodes
    consumers: dict[int, list[tuple[ir.Node, ir.Edge]]] = {n.id: [] for n in nodes}
    for n in nodes:
        for e in n.inputs:
            consumers[e.source].append((n, e))

    def local_keyby(k: ir.Node) -> bool:
        """A hash keyby between two single-instance operators needs no routing: run it inline."""
        if not isinstance(k, ir.KeyBy) or k.strategy != HASH or len(consumers[k.id]) != 1:
            return False
        edge = k.inputs[0]
        up, down = nodes[edge.source], consumers[k.id][0][0]
        return (
            not edge.feedback
            and edge.port is None
            and not isinstance(up, (ir.KeyBy, ir.Sink))
            and len(consumers[up.id]) == 1
            and up.parallelism == down.parallelism == 1
            and len(down.inputs) == 1
        )

    def fuses_into_upstream(n: ir.Node) -> bool:
        if n.is_source or len(n.inputs) != 1:
            return False
        if isinstance(n, ir.KeyBy):
            return local_keyby(n)
        edge = n.inputs[0]
        up = nodes[edge.source]
        if isinstance(up, ir.KeyBy):
            return local_keyby(up)
        return (
            not edge.feedback
            and edge.port is None
            and not isinstance(up, ir.Sink)
            and len(consumers[up.id]) == 1
            and up.parallelism == n.parallelism
        )

    # Chains: walk from every head down through fusable consumers.
    stage_of: dict[int, int] = {}
    chains: list[list[ir.Node]] = []
    for n in nodes:
        if isinstance(n, ir.KeyBy) or fuses_into_upstream(n):  # routed keyby nodes live on routes
            continue
        chain = [n]
        while True:
            nxt = consumers[chain[-1].id]
            if len(nxt) == 1 and fuses_into_upstream(nxt[0][0]):
                chain.append(nxt[0][0])
            else:
                break
        for c in chain:
            stage_of[c.id] = len(chains)
        chains.append(chain)

    def origin(node_id: int) -> tuple[int, ir.KeyBy | None]:
        """The stage that emits into this node id, and the keyby on the way (if any)."""
        node = nodes[node_id]
        if isinstance(node, ir.KeyBy):
            return stage_of[node.inputs[0].source], node
        return stage_of[node_id], None

    routes: dict[int, list[Route]] = {i: [] for i in range(len(chains))}
    upstream: dict[int, set[int]] = {i: set() for i in range(len(chains))}
    feedback_up: dict[int, set[int]] = {i: set() for i in range(len(chains))}
    keyed: dict[int, bool] = {}
    for sid, chain in enumerate(chains):
        head = chain[0]
        keyed_inputs = [isinstance(nodes[e.source], ir.KeyBy) for e in head.inputs]
        keyed[sid] = bool(keyed_inputs) and all(keyed_inputs)
        for e in head.inputs:
            src_stage, keyby = origin(e.source)
            feedback = e.feedback or (keyby is not None and keyby.inputs[0].feedback)
            port = e.port if keyby is None else keyby.inputs[0].port
            if keyby is not None:
                partition = keyby.strategy
            elif chains[src_stage][-1].parallelism == head.parallelism:
                partition = FORWARD
            else:
                partition = REBALANCE
            routes[src_stage].append(Route(sid, e.input_index, partition, keyby, feedback, port))
            (feedback_up if feedback else upstream)[sid].add(src_stage)

    plan = PhysicalPlan(graph)
    for sid, chain in enumerate(chains):
        plan.stages.append(
            Stage(
                id=sid,
                nodes=tuple(chain),
                parallelism=chain[0].parallelism,
                keyed=keyed[sid],
                routes=tuple(routes[sid]),
                upstream=tuple(sorted(upstream[sid])),
                feedback_upstream=tuple(sorted(feedback_up[sid])),
            )
        )
    return plan
