// Reverse-mode automatic differentiation: grad() appends the backward pass to the graph of the loss, node by node
// in reverse build order, from the vector-Jacobian rules of vjp.ts, so gradients emit and run like any output.
import { isFloat } from './dtype.js';
import { type Tensor, GraphBuildError, formatShape } from './graph.js';
import * as ops from './ops.js';
import { VJP_RULES, filled } from './vjp.js';

/**
 * Gradients of `loss` with respect to each tensor of `wrt`, as new tensors of the loss's graph (declare them as
 * outputs to compute them). `seed` is the cotangent of `loss`, of its dtype and shape; by default ones, so a
 * non-scalar loss is summed.
 *
 * Only the nodes on a path from a `wrt` tensor to `loss` are differentiated; the cotangents a tensor receives
 * along several paths are added. A `wrt` tensor with no path to `loss` gets zeros of its shape. Gradients flow
 * along floating-point tensors only: integer indices, boolean masks and shape tensors get none, and a float
 * tensor read by an op without a rule on such a path is an error naming the op. Cotangents of broadcast operands
 * are summed back to the operand's shape, assuming symbolic dims match the dims they broadcast against (see
 * `unbroadcast` in vjp.ts).
 */
export function grad(loss: Tensor, wrt: readonly Tensor[], seed?: Tensor): Tensor[] {
  const graph = loss.graph;
  for (const t of [loss, ...wrt, ...(seed ? [seed] : [])]) {
    if (t.graph !== graph) throw new GraphBuildError(`grad: ${t} belongs to another graph than ${loss}`);
    if (!isFloat(t.dtype)) throw new GraphBuildError(`grad: ${t} is not floating point`);
  }
  if (seed && (seed.dtype !== loss.dtype || seed.rank !== loss.rank)) throw new GraphBuildError(`grad: seed ${seed} does not match loss ${loss}`);

  const last = loss.producer ? graph.nodes.indexOf(loss.producer) : -1;
  // Float tensors computed from a wrt tensor, up to the loss.
  const fromWrt = new Set<Tensor>(wrt);
  for (let i = 0; i <= last; i++) {
    const node = graph.nodes[i];
    if (node.inputs.some((t) => t && fromWrt.has(t))) for (const o of node.outputs) if (isFloat(o.dtype)) fromWrt.add(o);
  }

  // Cotangents, complete for a tensor once every node after its producer has been visited.
  const grads = new Map<Tensor, Tensor>([[loss, seed ?? filled(loss, 1)]]);
  for (let i = last; i >= 0; i--) {
    const node = graph.nodes[i];
    const gys = node.outputs.map((o) => grads.get(o) ?? null);
    if (gys.every((g) => g === null) || !node.inputs.some((t) => t && fromWrt.has(t))) continue;
    const rule = node.domain === '' ? VJP_RULES.get(node.op) : undefined;
    if (!rule) {
      const op = node.domain ? `${node.domain}.${node.op}` : node.op;
      const along = node.inputs.filter((t) => t && fromWrt.has(t)).map(String);
      throw new GraphBuildError(`grad: no gradient rule for op ${op} (node ${node.outputs[0]?.name}, differentiating ${along.join(', ')})`);
    }
    const y = node.outputs[0];
    const lazies = rule({
      node,
      x: node.inputs as readonly Tensor[],
      y,
      gys,
      get gy() {
        return gys[0] ?? filled(y, 0);
      },
    });
    node.inputs.forEach((t, k) => {
      const lazy = lazies[k];
      if (!t || !lazy || !fromWrt.has(t)) return;
      const g = lazy();
      if (g.rank !== t.rank || g.dtype !== t.dtype) {
        throw new GraphBuildError(`grad: the ${node.op} rule gave ${g} for ${t} (expected ${t.dtype}${formatShape(t.shape)})`);
      }
      const prev = grads.get(t);
      grads.set(t, prev ? ops.add(prev, g) : g);
    });
  }
  return wrt.map((w) => grads.get(w) ?? filled(w, 0));
}
