import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeHtmlEntities, fnv1a32, tokenIds, tokenRows, tokenizerSpec, wordFeatures, words,
} from '../../src/data/text/tokenize.js';

const spec = tokenizerSpec(1 << 20);

describe('text tokenizer', () => {
  it('FNV-1a is the published 32-bit hash of the UTF-8 bytes (fixed, no seed)', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
    // "é" is two UTF-8 bytes, so it cannot hash like the one byte 0xE9 would.
    assert.notEqual(fnv1a32('é'), fnv1a32('\u00e9'.normalize('NFD')));
  });

  it('lower-cases, folds accents, splits on non-letters; a word is itself plus its boundary-marked 3-grams', () => {
    assert.deepEqual(words('Café CRÈME, naïve-Test 42x'), ['cafe', 'creme', 'naive', 'test', '42x']);
    assert.deepEqual(wordFeatures('abc'), ['w:abc', 'g:<ab', 'g:abc', 'g:bc>']);
    assert.deepEqual(wordFeatures('a'), ['w:a', 'g:<a>']);
  });

  it('keeps CJK runs and emoji as words, with n-grams over code points (not UTF-16 units)', () => {
    assert.deepEqual(words('東京タワー 🎮game🎮 ok'), ['東京タワー', '🎮', 'game', '🎮', 'ok']);
    assert.deepEqual(wordFeatures('😀x'), ['w:😀x', 'g:<😀x', 'g:😀x>']);
    assert.notDeepEqual(tokenIds('🎮', spec), tokenIds('🎲', spec));
    assert.ok(tokenIds('🎮', spec).length > 0);
  });

  it('decodes HTML entities (named, decimal, hex, double-escaped) and drops tags', () => {
    assert.equal(decodeHtmlEntities('Tom &amp; Jerry &#233;t&eacute; &#x4E2D; &bogus; &#xD800;'), 'Tom & Jerry été 中 &bogus; \uFFFD');
    assert.deepEqual(words('Salt&amp;amp;Pepper<br/>Mill &quot;Pro&quot;'), ['salt', 'pepper', 'mill', 'pro']);
    assert.deepEqual(tokenIds('caf&eacute; <b>ol&eacute;</b>', spec), tokenIds('CAFÉ olé', spec));
  });

  it('is deterministic, order-free and deduplicated: sorted distinct ids, the same for equal word sets', () => {
    const a = tokenIds('red wooden chair red', spec);
    assert.deepEqual(a, tokenIds('Chair, wooden; RED!', spec));
    assert.deepEqual(Array.from(a), Array.from(new Set(a)).sort((x, y) => x - y));
    assert.equal(a.length, new Set(['red', 'wooden', 'chair'].flatMap((w) => wordFeatures(w))).size, 'one id per distinct feature');
    assert.notDeepEqual(a, tokenIds('red wooden table', spec));
  });

  it('hashes into the bucket count; CSR rows line up with the texts', () => {
    const small = tokenizerSpec(7);
    for (const t of tokenIds('the quick brown fox jumps over the lazy dog', small)) assert.ok(t >= 0 && t < 7);
    const rows = tokenRows(['', 'a b', 'a'], spec);
    assert.deepEqual(Array.from(rows.offsets), [0, 0, rows.offsets[2]!, rows.tokens.length]);
    assert.deepEqual(rows.tokens.subarray(rows.offsets[2]!), tokenIds('a', spec));
    assert.equal(tokenIds('', spec).length, 0);
  });
});
