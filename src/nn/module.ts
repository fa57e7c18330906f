/**
 * PyTorch-like modules. Every parameter gets its full dotted name at construction (`block.3.conv1.weight`), and
 * those names are the checkpoint keys, so a module tree and its safetensors file line up one to one.
 */
import { ModelError } from '../errors.js';
import { Parameter, Shape, sizeOf } from '../tensor/index.js';

export abstract class Module {
  readonly name: string;
  private readonly ownParameters: Parameter[] = [];
  private readonly children: Module[] = [];

  constructor(name: string) {
    this.name = name;
  }

  /** Full name of a parameter or child of this module. */
  protected childName(local: string): string {
    return this.name ? `${this.name}.${local}` : local;
  }

  protected parameter(local: string, shape: Shape, data: Float32Array = new Float32Array(sizeOf(shape)),
    options: { rowSparse?: boolean } = {}): Parameter {
    const p = new Parameter(this.childName(local), data, shape, options);
    this.ownParameters.push(p);
    return p;
  }

  protected child<M extends Module>(module: M): M {
    this.children.push(module);
    return module;
  }

  /** All parameters of this module and its descendants, in construction order. */
  parameters(): Parameter[] {
    return [...this.ownParameters, ...this.children.flatMap((c) => c.parameters())];
  }

  parameterMap(): Map<string, Parameter> {
    return new Map(this.parameters().map((p) => [p.name, p]));
  }

  /** Marks every parameter (of this subtree) trainable or frozen; frozen ones get no gradient work. */
  setTrainable(trainable: boolean): this {
    for (const p of this.parameters()) p.requiresGrad = trainable;
    return this;
  }

  /** Copies values into the parameters by name; every parameter must be present with the right shape. */
  loadValues(values: Map<string, { shape: readonly number[]; data: Float32Array }>, source: string): void {
    for (const p of this.parameters()) {
      const v = values.get(p.name);
      if (!v) throw new ModelError(`${source}: missing tensor ${p.name}`);
      if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
        throw new ModelError(`${source}: tensor ${p.name} has shape [${v.shape.join(', ')}], the model expects [${p.shape.join(', ')}]`);
      }
      p.data.set(v.data);
    }
  }
}
