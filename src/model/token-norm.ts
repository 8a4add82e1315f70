// Standardized encoder tokens: each channel c of the frozen encoder's tokens z becomes (z_c − μ_c) / σ_c, with μ
// and σ measured once on the training crops and frozen, before the projector reads them (`standardize_tokens` in
// the config; this project's addition, not the paper's).
//
// Why: the default encoder concatenates four frozen networks whose channels differ in scale — σ about 0.75 for
// faceres, 3.5 for face_expression (1.3 to 8), 0.42 for emotion — and AdamW moves every weight by about the
// learning rate whatever its input's scale, so the projector's columns for a small-σ network change the output
// σ times more slowly than those of a large one. A linear probe standardizes its features for the same reason.
//
// Turning it on in a trained model changes nothing it computes: with P_V's first layer y = W·z + b,
//   W·z + b = (W·diag(σ))·((z − μ) / σ) + (b + W·μ),
// so W' = W·diag(σ), b' = b + W·μ (foldIntoProjector) answer exactly as before, and training goes on from there.
import type { Tensor } from '../graph/graph.js';
import type { HostTensor } from '../graph/host.js';
import * as ops from '../graph/ops.js';

/** The frozen statistics, [C] each, under the model scope. */
export const TOKEN_NORM_MEAN = 'model.token_norm.mean';
export const TOKEN_NORM_STD = 'model.token_norm.std';

/** Tokens [..., C] → (tokens − mean) / std, the statistics declared as weights `token_norm.{mean,std}` of the current scope. */
export function standardizeTokens(tokens: Tensor): Tensor {
  const g = tokens.graph;
  const width = tokens.dim(-1) as number;
  return g.scope('token_norm', () => ops.div(ops.sub(tokens, g.param('mean', 'float32', [width])), g.param('std', 'float32', [width])));
}

/** Running per-channel mean and standard deviation of token rows of width C (float64 sums). */
export class TokenStatistics {
  private readonly sum: Float64Array;
  private readonly squares: Float64Array;
  count = 0;

  constructor(readonly width: number) {
    this.sum = new Float64Array(width);
    this.squares = new Float64Array(width);
  }

  /** Adds every token of `data`, row-major [n, C]. */
  add(data: Float32Array): void {
    const c = this.width;
    if (data.length % c !== 0) throw new Error(`TokenStatistics: ${data.length} values are not rows of ${c}`);
    for (let i = 0; i < data.length; i += c) {
      for (let j = 0; j < c; j++) {
        const v = data[i + j];
        this.sum[j] += v;
        this.squares[j] += v * v;
      }
    }
    this.count += data.length / c;
  }

  /**
   * μ and σ [C]. A channel that never varies (σ = 0: a ReLU that never fires) keeps σ = 1, so it passes as its
   * constant minus itself, 0, rather than dividing by zero.
   */
  result(): { mean: HostTensor; std: HostTensor } {
    if (this.count === 0) throw new Error('TokenStatistics: no tokens were added');
    const mean = new Float32Array(this.width);
    const std = new Float32Array(this.width);
    for (let j = 0; j < this.width; j++) {
      const m = this.sum[j] / this.count;
      const variance = Math.max(0, this.squares[j] / this.count - m * m);
      mean[j] = m;
      std[j] = variance > 1e-12 ? Math.sqrt(variance) : 1;
    }
    return { mean: { dtype: 'float32', shape: [this.width], data: mean }, std: { dtype: 'float32', shape: [this.width], data: std } };
  }
}

/**
 * The projector's first layer for standardized tokens that computes what (weight, bias) computed on raw ones:
 * W' = W·diag(σ), b' = b + W·μ (see the top of this file). `bias` undefined: a layer without one cannot absorb
 * W·μ, so it is refused.
 */
export function foldIntoProjector(weight: HostTensor, bias: HostTensor | undefined, stats: { mean: HostTensor; std: HostTensor }): { weight: HostTensor; bias: HostTensor } {
  const [rows, cols] = weight.shape;
  if (weight.dtype !== 'float32' || weight.shape.length !== 2) throw new Error(`token norm: the projector weight must be a float32 matrix, got ${weight.dtype} [${weight.shape.join(', ')}]`);
  if (!bias || bias.dtype !== 'float32' || bias.shape.join() !== String(rows)) throw new Error(`token norm: the projector's first layer needs a float32 bias of ${rows}`);
  if (stats.mean.shape[0] !== cols || stats.std.shape[0] !== cols) throw new Error(`token norm: statistics of ${stats.mean.shape[0]} channels for a projector that reads ${cols}`);
  const w = weight.data as Float32Array;
  const mu = stats.mean.data as Float32Array;
  const sigma = stats.std.data as Float32Array;
  const folded = new Float32Array(w.length);
  const shifted = Float32Array.from(bias.data as Float32Array);
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let c = 0; c < cols; c++) {
      const x = w[r * cols + c];
      folded[r * cols + c] = x * sigma[c];
      dot += x * mu[c];
    }
    shifted[r] += dot;
  }
  return { weight: { dtype: 'float32', shape: [rows, cols], data: folded }, bias: { dtype: 'float32', shape: [rows], data: shifted } };
}

/** μ and σ of `extra` appended channels that leave them as they are (μ 0, σ 1): what widening a standardized model adds. */
export function extendStatistics(stats: { mean: HostTensor; std: HostTensor }, extra: number): { mean: HostTensor; std: HostTensor } {
  const pad = (t: HostTensor, fill: number) => {
    const data = new Float32Array(t.shape[0] + extra).fill(fill);
    data.set(t.data as Float32Array);
    return { dtype: 'float32' as const, shape: [data.length], data };
  };
  return { mean: pad(stats.mean, 0), std: pad(stats.std, 1) };
}
