// `npm run stress -- [--minutes N] [--quorum] [--leader] [--seed S] [--starvation MS] [--no-cohort]`: the adversarial
// stress for as long as you like; `--leader` runs leader election instead of random locks.
import { parseArgs } from 'node:util';
import { runStress } from './stress.runner';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    quorum: { type: 'boolean', default: false },
    leader: { type: 'boolean', default: false },
    seed: { type: 'string' },
    workers: { type: 'string', default: '4' },
    starvation: { type: 'string' },
    'no-cohort': { type: 'boolean', default: false },
  },
});

runStress({
  duration: Number(values.minutes) * 60_000,
  quorum: values.quorum,
  mode: values.leader ? 'leader' : 'locks',
  seed: values.seed === undefined ? undefined : Number(values.seed),
  workers: Number(values.workers),
  settings: {
    ...(values.starvation === undefined ? {} : { starvation: Number(values.starvation) }),
    ...(values['no-cohort'] ? { cohort: false as const } : {}),
  },
  log: (line) => console.log(line),
}).then(
  ({ violations }) => {
    if (violations.length > 0) {
      console.error(`stress: ${violations.length} violation(s):\n${violations.map((violation) => `- ${violation}`).join('\n')}`);
      process.exit(1);
    }
    console.log('stress: no violation');
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
