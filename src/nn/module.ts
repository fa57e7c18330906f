/**
 * PyTorch-like modules. Every parameter gets its full dotted name at construction (`block.3.conv1.weight`), and
 * those names are the checkpoint keys, so a module tree and its safetensors file line up one to one.
 */
import { ModelError } from '../errors.js';
import { Parameter, Shape, noteParameterWrite, sizeOf } from '../tensor/index.js';

export abstract class Module {
  readonly name: string;
  private ownParameters: Parameter[] = [];
  private children: Module[] = [];

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
    noteParameterWrite();
  }

  /**
   * A copy of this module tree that shares every parameter tensor with this one, except the parameters named in
   * `replace`, which become new Parameters holding the given values. Many tasks can then run on one base model in
   * memory: each task's copy costs a few objects plus the tensors its patch replaced, and per-task state such as
   * patch hooks lives on the copy. The original tree is never modified. A descendant found in `substitute` is
   * not copied: its counterpart given there takes its place (the same weights over another item catalogue).
   */
  copySharing(replace: ReadonlyMap<string, Float32Array> = new Map(), substitute: ReadonlyMap<Module, Module> = new Map()): this {
    const copy = Object.create(Object.getPrototypeOf(this) as object) as this;
    // Maps each of this module's parameters/children to its counterpart in the copy, so that fields pointing at
    // them (`this.ln2`, `this.blocks[3]`, `this.gamma`) can be redirected.
    const counterpart = new Map<unknown, unknown>();
    const ownParameters = this.ownParameters.map((p) => {
      const data = replace.get(p.name);
      if (!data) return p;
      if (data.length !== p.size) throw new ModelError(`replacement for ${p.name} has ${data.length} values, expected ${p.size}`);
      const q = new Parameter(p.name, data, p.shape, { rowSparse: p.rowSparse, requiresGrad: false });
      counterpart.set(p, q);
      return q;
    });
    const children = this.children.map((c) => {
      const cc = substitute.get(c) ?? c.copySharing(replace, substitute);
      counterpart.set(c, cc);
      return cc;
    });
    for (const [key, value] of Object.entries(this)) {
      (copy as Record<string, unknown>)[key] = Array.isArray(value)
        ? value.map((v: unknown) => counterpart.get(v) ?? v)
        : counterpart.get(value) ?? value;
    }
    copy.ownParameters = ownParameters;
    copy.children = children;
    return copy;
  }
}
