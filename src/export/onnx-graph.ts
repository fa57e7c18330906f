/**
 * Building an ONNX graph node by node: constants (initializers), nodes in the order they are added (a topological
 * order), and the pieces every backbone's graph shares — LayerNorm, graftrec's Linear, GELU, the padding mask and
 * positions of an id input, and the item table's rows.
 */
import { ONNX_FLOAT, OnnxInitializer, OnnxNode } from './onnx-proto.js';
import { LayerNorm, Linear } from '../nn/layers.js';
import { UserEncoder } from '../models/encoder.js';

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  private readonly byName = new Map<string, OnnxInitializer>();

  /**
   * A constant; one of a name already added is that one (shared constants such as axes are added once), which
   * must hold the same values.
   */
  constant(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    const added = this.byName.get(name);
    if (added) {
      const same = added.dims.join() === dims.join() && added.data.constructor === data.constructor
        && added.data.every((v: number | bigint, i: number) => v === data[i]);
      if (!same) throw new Error(`internal: two ONNX constants named ${name}`);
      return name;
    }
    const t = { name, dims, data };
    this.byName.set(name, t);
    this.initializers.push(t);
    return name;
  }

  ints(name: string, values: number[], scalar = false): string {
    return this.constant(name, scalar ? [] : [values.length], BigInt64Array.from(values, BigInt));
  }

  float(name: string, value: number): string {
    return this.constant(name, [], Float32Array.of(value));
  }

  node(opType: string, inputs: string[], output: string, attributes?: OnnxNode['attributes']): string {
    this.nodes.push({ opType, inputs, outputs: [output], attributes });
    return output;
  }

  layerNorm(x: string, layer: LayerNorm, name: string): string {
    const gamma = this.constant(`${name}.gamma`, [...layer.gamma.shape], layer.gamma.data);
    const beta = this.constant(`${name}.beta`, [...layer.beta.shape], layer.beta.data);
    return this.node('LayerNormalization', [x, gamma, beta], `${name}.output`, { axis: -1, epsilon: { float: layer.eps } });
  }

  /** graftrec's Linear: weight [in, out], x [..., in] → x · W + b. */
  linear(x: string, layer: Linear, name: string): string {
    const w = this.constant(`${name}.weight`, [...layer.weight.shape], layer.weight.data);
    const y = this.node('MatMul', [x, w], `${name}.matmul`);
    if (!layer.bias) return y;
    return this.node('Add', [y, this.constant(`${name}.bias`, [...layer.bias.shape], layer.bias.data)], `${name}.output`);
  }

  /** GELU in its tanh form, as graftrec computes it: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))). */
  gelu(x: string, name: string): string {
    const cubic = this.node('Mul', [this.node('Mul', [this.node('Mul', [x, x], `${name}.x2`), x], `${name}.x3`),
      this.float('gelu.c', 0.044715)], `${name}.cubic`);
    const inner = this.node('Mul', [this.node('Add', [x, cubic], `${name}.arg`), this.float('gelu.k', Math.sqrt(2 / Math.PI))], `${name}.scaled`);
    const onePlus = this.node('Add', [this.node('Tanh', [inner], `${name}.tanh`), this.float('one.f', 1)], `${name}.sum`);
    return this.node('Mul', [this.node('Mul', [x, onePlus], `${name}.prod`), this.float('half.f', 0.5)], name);
  }

  private readonly masks = new Map<string, { isItem: string; mask: string }>();

  /** ids > 0 [batch, length] (bool) and as float [batch, length, 1], for an id input `ids`. */
  paddingMasks(ids: string): { isItem: string; mask: string } {
    let m = this.masks.get(ids);
    if (!m) {
      const isItem = this.node('Greater', [ids, this.ints('zero', [0], true)], `${ids}.is_item`);
      const mask = this.node('Unsqueeze', [this.node('Cast', [isItem], `${ids}.mask.2d`, { to: ONNX_FLOAT }), this.ints('axis.-1', [-1])], `${ids}.mask`);
      m = { isItem, mask };
      this.masks.set(ids, m);
    }
    return m;
  }

  private readonly positions = new Map<string, { length: string; steps: string }>();

  /** The length of an id input `ids` [batch, length] (a scalar) and 0, 1, ..., length-1. */
  lengthSteps(ids: string): { length: string; steps: string } {
    let p = this.positions.get(ids);
    if (!p) {
      const length = this.node('Gather', [this.node('Shape', [ids], `${ids}.shape`), this.ints('one', [1], true)], `${ids}.length`, { axis: 0 });
      const steps = this.node('Range', [this.ints('zero', [0], true), length, this.ints('one', [1], true)], `${ids}.steps`);
      p = { length, steps };
      this.positions.set(ids, p);
    }
    return p;
  }

  /** The id table rows of `ids`: [batch, length, dim]. */
  itemVectors(model: UserEncoder, ids: string): string {
    const table = model.items.ids!.weight;
    return this.node('Gather', [this.constant('items.weight', [...table.shape], table.data), ids], 'embedded', { axis: 0 });
  }
}
