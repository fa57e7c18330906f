#!/usr/bin/env node
/** The graftrec command line: thin wrappers that parse, validate and call the layers below. */
import { Command } from 'commander';
import { GraftrecError, InterruptedError } from '../errors.js';
import { packageVersion } from '../io/package.js';
import { benchCommand } from './bench.js';
import { continualCommand } from './continual.js';
import { synthCommand } from './synth.js';
import { embedCommand } from './embed.js';
import { evaluateCommand } from './evaluate.js';
import { exportCommand } from './export.js';
import { experimentCommand } from './experiment.js';
import { finetuneCommand } from './finetune.js';
import { predictCommand } from './predict.js';
import { infoCommand } from './info.js';
import { ingestCommand } from './ingest.js';
import { pretrainCommand } from './pretrain.js';
import { recommendCommand } from './recommend.js';
import { reportCommand } from './report.js';
import { serveCommand } from './serve.js';

const version = packageVersion();

const program = new Command()
  .name('graftrec')
  .version(version, '-V, --version', 'print the graftrec version')
  .description('Transferable user modelling: pretrain one sequential user model, graft patches for many tasks.')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(ingestCommand());
program.addCommand(pretrainCommand());
program.addCommand(evaluateCommand());
program.addCommand(recommendCommand());
program.addCommand(embedCommand());
program.addCommand(exportCommand());
program.addCommand(finetuneCommand());
program.addCommand(predictCommand());
program.addCommand(experimentCommand());
program.addCommand(continualCommand());
program.addCommand(reportCommand());
program.addCommand(serveCommand());
program.addCommand(benchCommand());
program.addCommand(synthCommand());
program.addCommand(infoCommand());

// List defaults read in help as they are typed (`1,4`), not as JSON (`[1,4]`).
const commands = (c: Command): Command[] => [c, ...c.commands.flatMap(commands)];
for (const command of commands(program)) {
  for (const option of command.options) {
    if (Array.isArray(option.defaultValue) && option.defaultValueDescription === undefined) {
      option.defaultValueDescription = option.defaultValue.join(',');
    }
  }
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const code = (err as { code?: string }).code;
  if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') process.exit(0);
  if (code?.startsWith('commander.')) process.exit((err as { exitCode?: number }).exitCode ?? 1);
  if (err instanceof InterruptedError) {
    process.stderr.write(`graftrec: interrupted: ${err.message}\n`);
    process.exit(130);
  }
  const message = err instanceof GraftrecError ? `${err.name}: ${err.message}` : (err as Error).stack ?? String(err);
  process.stderr.write(`graftrec: ${message}\n`);
  process.exit(1);
}
