// The `face-llava` command line: one sub-command per job, Unix manners (stdout for results, stderr for
// progress and errors, non-zero exit codes on failure).
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerDataCommands } from './data.js';
import { evalCommand } from './eval.js';

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
  registerDataCommands(program);
  program.addCommand(evalCommand());
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  if (argv.length <= 2) {
    program.outputHelp();
    return;
  }
  await program.parseAsync(argv);
}
