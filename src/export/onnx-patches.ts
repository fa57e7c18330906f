/**
 * A task's patches in a backbone's graph, where its insertion puts them (see transfer/insertion.ts): the backbone
 * graphs call afterSublayer and residual at every block, and without patches both are the plain network.
 */
import { ModelError } from '../errors.js';
import { GraphBuilder } from './onnx-graph.js';
import { UserEncoder } from '../models/encoder.js';
import type { PatchInsertion } from '../transfer/insertion.js';

export type OnnxTensor = { shape: readonly number[]; data: Float32Array };

export class GraphPatches {
  /** `patches` by parameter name, `patch.<block>.<sublayer>.{down,up}.{weight,bias}`; insertion null: none. */
  constructor(private readonly g: GraphBuilder, private readonly model: UserEncoder, private readonly insertion: PatchInsertion | null,
    private readonly patches: ReadonlyMap<string, OnnxTensor>) {}

  private tensor(name: string): string {
    const t = this.patches.get(name);
    if (!t) throw new ModelError(`the task has no tensor ${name}, which its ${this.insertion} patches need`);
    return this.g.constant(name, [...t.shape], t.data);
  }

  /** Δ(x) = Up(GELU(Down(x))). */
  private delta(x: string, prefix: string): string {
    const g = this.g;
    const linear = (input: string, part: string) => g.node('Add', [g.node('MatMul', [input, this.tensor(`${prefix}.${part}.weight`)],
      `${prefix}.${part}.matmul`), this.tensor(`${prefix}.${part}.bias`)], `${prefix}.${part}.output`);
    return linear(g.gelu(linear(x, 'down'), `${prefix}.gelu`), 'up');
  }

  /** What continues after sublayer `index` of block `block`, given its output and its input. */
  afterSublayer(block: number, index: 0 | 1, output: string, input: string): string {
    const prefix = `patch.${block}.${this.model.sublayerNames[index]}`;
    switch (this.insertion) {
      case 'serial-each-conv':
      case 'serial-each-sublayer':
        return this.g.node('Add', [output, this.delta(output, prefix)], `${prefix}.output`);
      case 'serial-second-conv':
        return index === 1 ? this.g.node('Add', [output, this.delta(output, prefix)], `${prefix}.output`) : output;
      case 'parallel-each-conv':
      case 'parallel-each-sublayer':
        return this.g.node('Add', [output, this.delta(input, prefix)], `${prefix}.output`);
      default:
        return output;
    }
  }

  /** The block's output from its input x and residual branch. */
  residual(block: number, x: string, branch: string): string {
    const sum = this.g.node('Add', [x, branch], `block.${block}.output`);
    if (this.insertion !== 'residual-mixed') return sum;
    const prefix = `patch.${block}.residual`;
    return this.g.node('Add', [sum, this.delta(branch, prefix)], `${prefix}.output`);
  }
}
