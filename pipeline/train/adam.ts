/**
 * Adam (Kingma & Ba 2015) over a fixed list of variables, with its whole state (step count, first and
 * second moments) readable and restorable. tfjs's own optimizer rebuilds its bias-correction accumulators
 * with pow() on restore, which differs in the last bits from the running product it keeps while
 * training; here the correction is computed from the step count every time, so a restored run repeats
 * the uninterrupted one bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';

export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface AdamState {
  step: number;
  /** m then v for every variable, in variable order. */
  moments: Float32Array[];
}

export class Adam {
  private readonly lr: number;
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  step = 0;

  constructor(
    private readonly vars: tf.Variable[],
    o: AdamOptions,
  ) {
    this.lr = o.learningRate;
    this.b1 = o.beta1 ?? 0.9;
    this.b2 = o.beta2 ?? 0.999;
    this.eps = o.epsilon ?? 1e-7;
    this.m = vars.map((x) => tf.variable(tf.zerosLike(x), false));
    this.v = vars.map((x) => tf.variable(tf.zerosLike(x), false));
  }

  /** One step on `loss()`; returns the loss value. */
  minimize(loss: () => tf.Scalar): number {
    const { value, grads } = tf.variableGrads(loss, this.vars);
    this.applyGradients(this.vars.map((x) => grads[x.name]));
    const out = value.dataSync()[0];
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
    return out;
  }

  /** One step with given gradients (in variable order; the caller keeps and disposes them). */
  applyGradients(grads: tf.Tensor[]): void {
    if (grads.length !== this.vars.length)
      throw new ModelError(`${grads.length} gradients for ${this.vars.length} variables`);
    this.step++;
    const t = this.step;
    const alpha = (this.lr * Math.sqrt(1 - this.b2 ** t)) / (1 - this.b1 ** t);
    tf.tidy(() => {
      this.vars.forEach((x, i) => {
        const g = grads[i];
        const m = this.m[i].mul(this.b1).add(g.mul(1 - this.b1));
        const v = this.v[i].mul(this.b2).add(g.square().mul(1 - this.b2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        x.assign(x.sub(m.mul(alpha).div(v.sqrt().add(this.eps))));
      });
    });
  }

  state(): AdamState {
    return { step: this.step, moments: [...this.m, ...this.v].map((t) => t.dataSync() as Float32Array) };
  }

  restore(s: AdamState): void {
    if (s.moments.length !== 2 * this.vars.length)
      throw new ModelError(
        `optimizer state has ${s.moments.length / 2} variables, the model ${this.vars.length}`,
      );
    [...this.m, ...this.v].forEach((variable, i) => {
      if (s.moments[i].length !== variable.size)
        throw new ModelError('optimizer state does not match the model (different architecture?)');
      variable.assign(tf.tensor(s.moments[i], variable.shape));
    });
    this.step = s.step;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}
