// Draws the run's DAG (JSON from the page's #dag-data) as SVG, laid out by dagre.
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const holder = document.getElementById("dag");
  const source = document.getElementById("dag-data");
  if (!holder || !source || !window.dagre) return;
  const data = JSON.parse(source.textContent);

  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 56, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of data.nodes) {
    const width = Math.min(Math.max(node.label.length * 8 + 32, 90), 260);
    g.setNode(node.id, { ...node, width, height: node.kind === "step" ? 40 : 30 });
  }
  for (const edge of data.edges) g.setEdge(edge.from, edge.to);
  dagre.layout(g);

  const el = (name, attrs, parent) => {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  };
  const graph = g.graph();
  const svg = el("svg", { viewBox: `0 0 ${graph.width} ${graph.height}`, width: graph.width, height: graph.height, class: "dag-svg" });
  const defs = el("defs", {}, svg);
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" }, defs);
  el("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }, marker);

  for (const e of g.edges()) {
    const points = g.edge(e).points.map((p) => `${p.x},${p.y}`).join(" ");
    el("polyline", { points, class: "edge", "marker-end": "url(#arrow)" }, svg);
  }
  for (const id of g.nodes()) {
    const n = g.node(id);
    const wrap = n.url ? el("a", { href: n.url }, svg) : svg;
    const group = el("g", { class: `node node-${n.kind} status-${n.status}`, "data-id": id, transform: `translate(${n.x - n.width / 2},${n.y - n.height / 2})` }, wrap);
    const title = el("title", {}, group);
    title.textContent = `${n.title || n.label} (${n.kind === "step" ? n.status : "artifact"})`;
    el("rect", { width: n.width, height: n.height, rx: n.kind === "step" ? 6 : 15 }, group);
    const text = el("text", { x: n.width / 2, y: n.height / 2, "dominant-baseline": "middle", "text-anchor": "middle" }, group);
    text.textContent = n.label.length > 30 ? n.label.slice(0, 29) + "…" : n.label;
  }
  holder.appendChild(svg);
})();
