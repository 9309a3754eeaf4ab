// The stream of feeds a run trains on: the loader of the train split (and for a two-view task the loader of its
// second view: other crops and augmentations of the same videos in the same order), and the seeded stream of
// prediction positions and dropout seeds. Its position is what a checkpoint stores to resume exactly.
import { twoViews, type Config } from '../config/index.ts';
import { loaderFromConfig } from '../data/from-config.ts';
import type { Loader, LoaderState } from '../data/loader.ts';
import type { Manifest } from '../graph/artifacts.ts';
import { Rng, type RngState } from '../rng.ts';
import { batchFeeds, type Feeds } from '../runtime/feeds.ts';

export interface StreamPosition {
  /** The positions stream. */
  rng: RngState;
  loader: LoaderState;
}

export class Batches implements AsyncDisposable {
  private rng: Rng;

  private constructor(private readonly loader: Loader, private readonly second: Loader | null, seed: number, private readonly accum: number) {
    this.rng = Rng.fromSeed(seed, 'positions');
  }

  static open(config: Config): Batches {
    const loader = loaderFromConfig(config, { split: 'train', train: true });
    try {
      const second = twoViews(config) ? loaderFromConfig(config, { split: 'train', train: true, view: '/2' }) : null;
      return new Batches(loader, second, config.train.seed, config.train.grad_accum);
    } catch (e) {
      void loader.close();
      throw e;
    }
  }

  get batchesPerEpoch(): number {
    return this.loader.batchesPerEpoch;
  }

  position(): StreamPosition {
    return { rng: this.rng.state(), loader: this.loader.state() };
  }

  restore(p: StreamPosition): void {
    this.rng = Rng.fromState(p.rng);
    this.loader.restore(p.loader);
    this.second?.restore(p.loader);
  }

  /** The feeds of one step's `train.grad_accum` micro-batches, and how many clips they hold. */
  async next(m: Manifest): Promise<{ micro: Feeds[]; clips: number }> {
    const micro: Feeds[] = [];
    let clips = 0;
    for (let k = 0; k < this.accum; k++) {
      const batch = await this.loader.next();
      const other = this.second ? await this.second.next() : null;
      clips += batch.labels.length;
      micro.push(batchFeeds(m, this.rng, batch, other));
    }
    return { micro, clips };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.loader.close();
    await this.second?.close();
  }
}
