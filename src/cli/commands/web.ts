// `vhssl web --run RUN_DIR --out DIR`: the run as a static site that trains on a sample of its data and embeds a
// dropped video in the browser (onnxruntime-web), from the same artifacts and checkpoint.
import { UserError } from '../../errors.ts';
import { serveStatic } from '../../web/serve.ts';
import { writeSite } from '../../web/site.ts';
import { intOption, parseCommandArgs, positiveOption, requireOption } from '../args.ts';
import type { Command } from '../command.ts';

const options = {
  run: { type: 'string' },
  out: { type: 'string' },
  checkpoint: { type: 'string' },
  'train-videos': { type: 'string' },
  'test-videos': { type: 'string' },
  steps: { type: 'string' },
  lr: { type: 'string' },
  serve: { type: 'boolean' },
  port: { type: 'string' },
} as const;

export const command: Command = {
  summary: 'write a static page that trains and embeds in the browser (onnxruntime-web) from a run',
  usage: [
    'vhssl web --run RUN_DIR --out DIR [--checkpoint best|last|PATH] [--train-videos N] [--test-videos N] [--steps N] [--lr X] [--serve [--port N]]',
    '',
    '  --checkpoint C     the state the page starts from: best | last | PATH (default: best, else last)',
    '  --train-videos N   videos of the sample\'s train split (default 64), spread over the classes',
    '  --test-videos N    videos of its test split, for k-NN and the map (default 32)',
    '  --steps N          the page\'s default number of training steps (default 50)',
    '  --lr X             the page\'s default learning rate (default: the run\'s train.optimizer.lr)',
    '',
    '  --serve            then serve DIR at http://127.0.0.1:PORT/ until Ctrl-C (--port, default 8000; 0: any free port)',
    '',
    '  Serve DIR with any static file server (or --serve) and open it; nothing is uploaded.',
  ].join('\n'),
  async run(argv) {
    const { values: v } = parseCommandArgs('web', argv, options);
    const run = requireOption('web', v.run, 'run');
    const out = requireOption('web', v.out, 'out');
    if (v.port !== undefined && !v.serve) throw new UserError('--port', 'only with --serve');
    const port = intOption('port', v.port, 0) ?? 8000;
    const r = await writeSite({
      run,
      out,
      checkpoint: v.checkpoint,
      trainVideos: intOption('train-videos', v['train-videos']),
      testVideos: intOption('test-videos', v['test-videos']),
      steps: intOption('steps', v.steps),
      lr: positiveOption('lr', v.lr),
      log: (line) => console.error(line),
    });
    const i = r.info;
    console.log(`${r.dir}: ${(r.bytes / 2 ** 20).toFixed(1)} MiB; run ${i.run}, checkpoint ${i.checkpoint.file} (step ${i.checkpoint.step}), sample ${i.store.train} train + ${i.store.test} test videos`);
    if (!v.serve) {
      console.log(`serve it with any static file server, e.g. python3 -m http.server -d ${r.dir} 8000 (or vhssl web … --serve), then open http://localhost:8000/`);
      return 0;
    }
    const served = await serveStatic(r.dir, port).catch((e: NodeJS.ErrnoException) => {
      throw new UserError(`--port ${port}`, `cannot serve there: ${e.code ?? e.message}`, 'choose another --port (0: any free port)');
    });
    console.log(`serving ${r.dir} at ${served.url} (Ctrl-C stops)`);
    await new Promise<void>((done) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done());
    });
    await served.close();
    return 0;
  },
};
