// The run folder's checkpoint: everything a killed run needs to continue to exactly the result it would have
// reached — the trainable weights and AdamW's moments, the position (stage, updates done, which fixes the epoch
// and the place in its seeded data order), and the length of log.jsonl at that point (resuming cuts the log
// back to it, so the steps redone are not logged twice).
//
//   checkpoint/state.safetensors   param/<name>, m/<name>, v/<name> for every trainable weight
//   checkpoint/state.json          the position
//
// A new checkpoint is written complete into checkpoint.tmp/ (files fsynced), then checkpoint/ is renamed to
// checkpoint.old/, checkpoint.tmp/ to checkpoint/, and checkpoint.old/ removed. Whenever the process dies, one
// complete checkpoint is on disk: checkpoint/, or — between the two renames — checkpoint.old/.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor } from '../graph/host.js';
import { openSafetensors, writeSafetensors } from '../graph/safetensors.js';
import type { TrainState } from '../graph/trainer-step.js';

export const CHECKPOINT_FORMAT = 'face-llava-train/1';

export interface Position {
  /** Index of the stage in the run's sequence, and its name. */
  stage: number;
  stageName: string;
  /** Updates done in this stage. */
  step: number;
  /** Epoch and step within it that the next update starts from (they follow from `step`; kept for readers). */
  epoch: number;
  stepInEpoch: number;
  /** The data order's seed: epoch e is shuffled by seededRandom(seed, e). */
  seed: number;
  /** Bytes of log.jsonl up to this checkpoint. */
  logBytes: number;
}

export interface Checkpoint {
  position: Position;
  state: TrainState;
}

const KINDS = ['params', 'm', 'v'] as const;
const PREFIX = { params: 'param/', m: 'm/', v: 'v/' } as const;

export function saveCheckpoint(runDir: string, checkpoint: Checkpoint): void {
  const final = join(runDir, 'checkpoint');
  const tmp = `${final}.tmp`;
  const old = `${final}.old`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const tensors = new Map<string, HostTensor>();
  for (const kind of KINDS) for (const [name, t] of Object.entries(checkpoint.state[kind])) tensors.set(PREFIX[kind] + name, t);
  writeSafetensors(join(tmp, 'state.safetensors'), tensors, { format: CHECKPOINT_FORMAT });
  const position = { format: CHECKPOINT_FORMAT, ...checkpoint.position };
  const fd = openSync(join(tmp, 'state.json'), 'w');
  try {
    writeFileSync(fd, JSON.stringify(position, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  syncDir(tmp);
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  syncDir(runDir);
  rmSync(old, { recursive: true, force: true });
}

/** The run's last complete checkpoint, or null when it has none. */
export function loadCheckpoint(runDir: string): Checkpoint | null {
  const final = join(runDir, 'checkpoint');
  const old = `${final}.old`;
  if (!existsSync(final)) {
    if (!existsSync(old)) return null;
    renameSync(old, final); // killed between the two renames: the previous checkpoint is the last complete one
  }
  rmSync(`${final}.tmp`, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
  const { format, ...position } = JSON.parse(readFileSync(join(final, 'state.json'), 'utf8')) as Position & { format?: string };
  if (format !== CHECKPOINT_FORMAT) throw new Error(`${final}: not a ${CHECKPOINT_FORMAT} checkpoint`);
  const file = openSafetensors(join(final, 'state.safetensors'));
  const state: TrainState = { step: position.step, params: {}, m: {}, v: {} };
  for (const name of file.tensors.keys()) {
    const kind = KINDS.find((k) => name.startsWith(PREFIX[k]));
    if (!kind) throw new Error(`${final}: unexpected tensor ${name}`);
    state[kind][name.slice(PREFIX[kind].length)] = file.load(name);
  }
  return { position, state };
}

/** Make a folder's entries (new files, renames) durable. */
function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
