/**
 * A synthetic catalogue whose item text decides what is bought together (text-item tests): item i is a
 * "<descriptor> <topic> item <kind>" product, and each user buys distinct items of one topic only.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tokenRows, tokenizerSpec } from '../../src/data/text/tokenize.js';
import { ItemTokens } from '../../src/models/item-encoder.js';
import { Rng } from '../../src/tensor/index.js';

export const TOPICS = ['garden', 'kitchen', 'camera', 'guitar', 'tennis', 'aquarium'];
export const DESCRIPTORS = ['red', 'large', 'steel', 'compact', 'deluxe', 'vintage', 'portable', 'classic', 'pro', 'mini'];
const PER_TOPIC = 10;
export const ITEMS = TOPICS.length * PER_TOPIC;
export const SPEC = tokenizerSpec(1 << 12);

/**
 * A catalogue whose text decides what is bought together: item i is a "<descriptor> <topic> item <kind>" product,
 * and each user buys distinct items of one topic only. The fresh catalogue's <kind> word was never seen. Two catalogues (seeds) use the same words but shuffle which index
 * gets which text, so an item id means a different product in each.
 */
export function catalogue(seed: number, users: number): { texts: string[]; tokens: ItemTokens; sequences: Int32Array[] } {
  const rng = new Rng(seed);
  const order = Array.from({ length: ITEMS }, (_, i) => i);
  for (let i = ITEMS - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const topicOf = [-1];
  const texts = [''];
  for (let item = 1; item <= ITEMS; item++) {
    const slot = order[item - 1]!;
    const topic = Math.floor(slot / PER_TOPIC);
    topicOf.push(topic);
    texts.push(`${DESCRIPTORS[slot % PER_TOPIC]} ${TOPICS[topic]} item ${seed === 1 ? 'kit' : 'set'}`);
  }
  const byTopic = TOPICS.map((_, t) => topicOf.flatMap((tt, item) => (tt === t ? [item] : [])));
  const sequences = Array.from({ length: users }, (_, u) => {
    // Distinct items, so that the held-out item is never in the history (repeating the history would not help).
    const pool = [...byTopic[u % TOPICS.length]!];
    return Int32Array.from({ length: 7 }, () => pool.splice(rng.int(0, pool.length - 1), 1)[0]!);
  });
  const rows = tokenRows(texts.slice(1), SPEC);
  const offsets = Int32Array.from([0, ...rows.offsets]);
  return { texts: texts.slice(1), tokens: { offsets, tokens: rows.tokens }, sequences };
}


/** Writes a catalogue as an interaction log and an item-text table (items named `<prefix><index>`). */
export function writeCatalogue(dir: string, data: Pick<ReturnType<typeof catalogue>, 'texts' | 'sequences'>, prefix: string): { log: string; items: string } {
  const log = join(dir, `${prefix}interactions.tsv`);
  writeFileSync(log, 'user\titem\n' + data.sequences.flatMap((s, u) => Array.from(s, (i) => `u${u}\t${prefix}${i}`)).join('\n') + '\n');
  const items = join(dir, `${prefix}items.tsv`);
  writeFileSync(items, 'item\ttitle\n' + data.texts.map((t, k) => `${prefix}${k + 1}\t${t}`).join('\n') + '\n');
  return { log, items };
}
