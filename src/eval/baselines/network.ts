// A library's TF.js network on onnxruntime, through the project's importer (graph/tfjs-import.ts), fed NHWC
// batches exactly as the library feeds TF.js. Files come from the installed package: nothing is downloaded.
import type { HostTensor } from '../../graph/host.js';
import type { Session } from '../../graph/session.js';
import { compileImported, importTfjsModel, type TfjsArtifacts } from '../../graph/tfjs-import.js';
import type { FloatImages } from './preprocess.js';

export class Network {
  private constructor(
    readonly name: string,
    private readonly session: Session,
    private readonly input: string,
    /** Requested TF node names → graph output names (the same strings). */
    readonly outputs: readonly string[],
  ) {}

  /** Imports `artifacts` with the given outputs (TF node names) and compiles them. */
  static async load(name: string, artifacts: TfjsArtifacts, outputs: readonly string[], threads?: number): Promise<Network> {
    const imported = importTfjsModel(artifacts, { outputs, graphName: name });
    if (imported.inputs.length !== 1) throw new Error(`${name}: expected one input, got ${imported.inputs.length}`);
    const session = await compileImported(imported, { threads });
    return new Network(name, session, imported.inputs[0].name, imported.outputs.map((o) => o.name));
  }

  async run(x: FloatImages): Promise<Record<string, HostTensor>> {
    return this.session.run({ [this.input]: { dtype: 'float32', shape: [x.n, x.height, x.width, x.channels], data: x.data } });
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** Row `i` of a [n, k] output. */
export function row(t: HostTensor, i: number): Float32Array {
  const k = t.shape[t.shape.length - 1];
  return (t.data as Float32Array).subarray(i * k, (i + 1) * k);
}
