/**
 * A small seeded PRNG (mulberry32) for the campaign's plans. Math.random cannot be replayed; a
 * plan drawn from this one can, from its seed alone. Each part of a plan draws from its own
 * stream (`fork`), so adding a draw to one part does not shift the values of every other part.
 */

/** Seeds are unsigned 32-bit integers: printed, typed back on the command line, replayed. */
export const MAX_SEED = 0xffff_ffff;

export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [low, high], both included. */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  /** A float in [low, high), spread evenly over the orders of magnitude (1 s and 60 s alike). */
  logUniform(low: number, high: number): number {
    return Math.exp(Math.log(low) + this.next() * (Math.log(high) - Math.log(low)));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** One of `weights`' keys, each with its weight's share of the chances. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as Array<[K, number]>;
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let roll = this.next() * total;
    for (const [key, weight] of entries) {
      roll -= weight;
      if (roll < 0) return key;
    }
    return entries[entries.length - 1]![0];
  }

  /** An independent stream named `label`: the same seed and label always give the same stream. */
  fork(label: string): Random {
    let hash = this.state ^ 0x811c9dc5;
    for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193);
    return new Random(hash >>> 0);
  }
}

/** A fresh seed for a campaign started without one (printed, so it can be replayed). */
export function randomSeed(): number {
  return Math.floor(Math.random() * MAX_SEED);
}
