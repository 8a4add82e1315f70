// The `face-llava` command line: one sub-command per job, Unix manners (stdout for results, stderr for
// progress and errors, non-zero exit codes on failure).
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { analyzeCommand } from './analyze.js';
import { registerDataCommands } from './data.js';
import { evalCommand } from './eval.js';
import { registerHeadsCommand } from './heads.js';
import { registerLandmarksCommand } from './landmarks.js';
import { trainCommand } from './train.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('face-llava')
    .description(
      'Face-LLaVA on a plain CPU: facial expression, action units, attributes, age and deepfake detection,\n' +
        'answered in natural language with the reasoning behind each prediction.',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError();
  program.addCommand(analyzeCommand());
  registerDataCommands(program);
  program.addCommand(evalCommand());
  registerLandmarksCommand(program);
  registerHeadsCommand(program);
  program.addCommand(trainCommand());
  return program;
}

let quietOnClosedStdout = false;

/**
 * Ends the process quietly when the reader of stdout goes away (`face-llava data instructions … | head -1`): every
 * later write would fail with EPIPE, so there is nothing left to do, as for a Unix tool killed by SIGPIPE. The exit
 * code is 0, or a failure already recorded in process.exitCode. Installed once per process.
 */
export function exitQuietlyOnClosedStdout(): void {
  if (quietOnClosedStdout) return;
  quietOnClosedStdout = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit();
    throw err; // as an unhandled 'error' event would have been
  });
}

export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnClosedStdout();
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp();
    return;
  }
  await program.parseAsync(argv);
}
